"""Reusable views of LayerTune's state.

Each widget only draws what it is given and reports what the user asked for through
past-tense signals; none of them computes anything that belongs in :mod:`core`.

* :mod:`app.widgets.depth_stack` — the fine-tuning depth selector (paper Table II);
* :mod:`app.widgets.probability_strip` — per-frame model probability under a scrubber;
* :mod:`app.widgets.training_curves` — live loss and validation AUC plots;
* :mod:`app.widgets.disagreement_list` — frames where model and expert disagree;
* :mod:`app.widgets.help_overlay` — the keyboard-shortcut sheet.

Import the widgets from their modules, so that a window that needs no plots does not
pay for importing pyqtgraph.
"""
