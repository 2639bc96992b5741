"""Resolve torchvision's ImageNet AlexNet weights, offline first.

Order: a file the user names (``--weights PATH`` or the GUI's import action), then the
torch hub cache (``$TORCH_HOME/hub/checkpoints``), then, only where allowed, a download.
Clinical workstations are often offline, so a missing file is an ordinary situation
with a clear way forward (:class:`WeightsMissingError` says which file and where),
never a silent fall back to random weights.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

WEIGHTS_FILE = "alexnet-owt-7be5be79.pth"
"""torchvision's file name for ``AlexNet_Weights.IMAGENET1K_V1``."""

WEIGHTS_URL = f"https://download.pytorch.org/models/{WEIGHTS_FILE}"

# Shapes of torchvision's alexnet state dict (1000 ImageNet classes).
EXPECTED_SHAPES: dict[str, tuple[int, ...]] = {
    "features.0.weight": (64, 3, 11, 11), "features.0.bias": (64,),
    "features.3.weight": (192, 64, 5, 5), "features.3.bias": (192,),
    "features.6.weight": (384, 192, 3, 3), "features.6.bias": (384,),
    "features.8.weight": (256, 384, 3, 3), "features.8.bias": (256,),
    "features.10.weight": (256, 256, 3, 3), "features.10.bias": (256,),
    "classifier.1.weight": (4096, 9216), "classifier.1.bias": (4096,),
    "classifier.4.weight": (4096, 4096), "classifier.4.bias": (4096,),
    "classifier.6.weight": (1000, 4096), "classifier.6.bias": (1000,),
}


class WeightsError(Exception):
    """A weights file exists but is not usable (corrupt, wrong format)."""


class WeightsMissingError(WeightsError):
    """No pretrained weights were found; the message says where to put them."""


@dataclass(frozen=True)
class ResolvedWeights:
    """Where the weights came from and the state dict itself."""

    path: Path
    source: str  # "file" | "cache" | "download"
    sha256_prefix: str
    state_dict: dict[str, torch.Tensor]


def cache_path() -> Path:
    """Where torchvision keeps (and LayerTune looks for) the ImageNet AlexNet file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def missing_message() -> str:
    return (
        "The ImageNet-pretrained AlexNet weights are not on this computer.\n"
        f"Expected file: {WEIGHTS_FILE}\n"
        f"Put it here: {cache_path()}\n"
        "or import it (File > Import pretrained weights..., or --weights PATH on the "
        "command line). The file can be copied from any computer where torchvision has "
        f"downloaded it, or fetched from {WEIGHTS_URL}.\n"
        "Without it only training from scratch is possible."
    )


def _sha256_prefix(path: Path, n: int = 8) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:n]


def load_weights_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Load and validate a torchvision-format AlexNet state dict (``weights_only``)."""
    path = Path(path)
    if not path.is_file():
        raise WeightsMissingError(f"Weights file not found: {path}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        raise WeightsError(
            f"{path} could not be read as a PyTorch weights file ({type(exc).__name__}: "
            f"{exc}). Is it the torchvision file {WEIGHTS_FILE}?"
        ) from exc
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise WeightsError(f"{path} does not hold a state dict (found {type(sd).__name__}).")
    missing = [k for k in EXPECTED_SHAPES if k not in sd]
    wrong = [
        f"{k}: {tuple(sd[k].shape)} (expected {s})"
        for k, s in EXPECTED_SHAPES.items()
        if k in sd and tuple(getattr(sd[k], "shape", ())) != s
    ]
    if missing or wrong:
        detail = "; ".join(([f"missing {', '.join(missing[:4])}"] if missing else []) + wrong[:4])
        raise WeightsError(
            f"{path} is not torchvision's ImageNet AlexNet ({detail}). Expected the file "
            f"{WEIGHTS_FILE} for torchvision.models.alexnet."
        )
    return {k: sd[k] for k in EXPECTED_SHAPES}


def download_allowed() -> bool:
    """Downloads happen only when ``LAYERTUNE_ALLOW_DOWNLOAD=1`` (offline by default)."""
    return os.environ.get("LAYERTUNE_ALLOW_DOWNLOAD", "") == "1"


def resolve_weights(
    path: str | os.PathLike | None = None, *, allow_download: bool | None = None
) -> ResolvedWeights:
    """Find, load and validate the ImageNet AlexNet weights.

    Raises
    ------
    WeightsMissingError
        When no file is available (message names the expected file and folder).
    WeightsError
        When a file exists but is not usable.
    """
    if path is not None:
        p = Path(path)
        return ResolvedWeights(p, "file", _sha256_prefix(p) if p.is_file() else "",
                               load_weights_file(p))
    p = cache_path()
    if p.is_file():
        return ResolvedWeights(p, "cache", _sha256_prefix(p), load_weights_file(p))
    if allow_download is None:
        allow_download = download_allowed()
    if allow_download:
        try:
            torch.hub.load_state_dict_from_url(WEIGHTS_URL, progress=True, check_hash=True)
        except Exception as exc:
            raise WeightsMissingError(
                f"Downloading the weights failed ({exc}).\n" + missing_message()
            ) from exc
        return ResolvedWeights(p, "download", _sha256_prefix(p), load_weights_file(p))
    raise WeightsMissingError(missing_message())


def import_weights(path: str | os.PathLike) -> Path:
    """Validate ``path`` and copy it into the torch cache, where it is found from now on."""
    load_weights_file(path)
    dest = cache_path()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    shutil.copyfile(path, tmp)
    os.replace(tmp, dest)
    return dest
