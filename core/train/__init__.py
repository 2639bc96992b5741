"""Training: AlexNet and the Table II depth schedule (``model``), the engine (``engine``),
sampling rules (``sampling``), patch datasets (``patches``), snapshots (``checkpoint``)
and the ImageNet weights (``weights``)."""
