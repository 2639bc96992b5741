"""Resolve torchvision's ImageNet AlexNet weights, offline first.

Order: a file the user names (``--weights PATH``), then a file imported as custom weights
(:data:`CUSTOM_FILE`), then torchvision's file in the torch hub cache
(``$TORCH_HOME/hub/checkpoints``), then, only where allowed, a download. Clinical
workstations are often offline, so a missing file is an ordinary situation with a clear
way forward (:class:`WeightsMissingError` says which file and where), never a silent
fall back to random weights.

Every file is identified by its SHA-256. torchvision publishes the first eight hex digits
in the file name (``alexnet-owt-7be5be79.pth``); a file whose hash starts otherwise but
holds AlexNet's shapes is accepted only as *custom weights*, and everything that reports
the weights (CLI, GUI, the run's record) says so. A file that cannot be read gets a plain
message: it is loaded with ``weights_only=True`` (no code in it ever runs) and torch's own
error text, with its advice to load unsafely, is never shown.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

WEIGHTS_FILE = "alexnet-owt-7be5be79.pth"
"""torchvision's file name for ``AlexNet_Weights.IMAGENET1K_V1``."""

WEIGHTS_URL = f"https://download.pytorch.org/models/{WEIGHTS_FILE}"

TORCHVISION_SHA256_PREFIX = "7be5be79"
"""The start of the SHA-256 of torchvision's file, as published in its name."""

CUSTOM_FILE = "layertune-custom-alexnet.pth"
"""Where imported weights that are not torchvision's file are kept (beside the cache)."""

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
    """A weights file exists but is not usable (damaged, wrong format)."""


class WeightsMissingError(WeightsError):
    """No pretrained weights were found; the message says where to put them."""


def is_original(sha256: str) -> bool:
    """Whether a file's hex SHA-256 is that of torchvision's published file."""
    return sha256.lower().startswith(TORCHVISION_SHA256_PREFIX)


@dataclass(frozen=True)
class ResolvedWeights:
    """Where the weights came from, what they are, and the state dict itself.

    ``source`` is ``"file"`` (named by the user), ``"custom"`` (imported custom
    weights), ``"cache"`` (the torch hub cache) or ``"download"``; ``sha256`` the
    file's full hex SHA-256.
    """

    path: Path
    source: str
    sha256: str
    state_dict: dict[str, torch.Tensor]

    @property
    def sha256_prefix(self) -> str:
        return self.sha256[:8]

    @property
    def original(self) -> bool:
        """True for torchvision's published file, False for custom weights."""
        return is_original(self.sha256)

    @property
    def kind(self) -> str:
        return "torchvision ImageNet AlexNet weights" if self.original else "custom weights"

    def describe(self) -> str:
        """One sentence for the user: which weights these are and where they are."""
        if self.original:
            return (f"torchvision ImageNet AlexNet weights (SHA-256 {self.sha256_prefix}..., "
                    f"as published): {self.path}")
        return (f"custom weights (SHA-256 {self.sha256_prefix}..., not torchvision's "
                f"published {TORCHVISION_SHA256_PREFIX}...; AlexNet shapes, origin "
                f"unknown): {self.path}")

    def record(self) -> str:
        """The run record's ``weights_source``."""
        return f"{self.kind} ({self.source}: {self.path})"

    def reference(self) -> dict:
        """What a snapshot that stores only the tuned layers records of these weights."""
        return {"sha256": self.sha256, "path": str(self.path), "original": self.original,
                "file": self.path.name}


def cache_path() -> Path:
    """Where torchvision keeps (and LayerTune looks for) the ImageNet AlexNet file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def custom_path() -> Path:
    """Where :func:`import_weights` puts a file that is not torchvision's."""
    return cache_path().with_name(CUSTOM_FILE)


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


_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def expected_shapes(arch: str = "torchvision") -> dict[str, tuple[int, ...]]:
    """The state-dict entries a pretrained file of ``arch`` must hold, with their shapes.

    ``"torchvision"``: torchvision's ImageNet AlexNet, 1000-way fc8 included.
    ``"bvlc"``: Table I's Caffe layout (:mod:`core.train.bvlc`); its fc8 may have any
    width (it is replaced), so it is not checked.
    """
    if arch == "torchvision":
        return EXPECTED_SHAPES
    if arch == "bvlc":
        from core.train import bvlc

        return {k: v for k, v in bvlc.state_dict_shapes(1000).items()
                if not k.startswith("classifier.6.")}
    raise ValueError(f"unknown arch {arch!r}; choose one of 'torchvision', 'bvlc'")


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file (remembered per path, size and modification time)."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def unreadable_reason(path: Path, exc: BaseException) -> str:
    """Why ``torch.load(path, weights_only=True)`` failed, in plain words (never torch's
    text, which may advise loading unsafely)."""
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    if size == 0:
        return "is empty (0 bytes)"
    if isinstance(exc, pickle.UnpicklingError) and "global" in str(exc).lower():
        # weights_only refused to import a class or function the file names
        return ("holds Python objects, not only tensors; it was refused without being run, "
                "because opening such a file can execute code")
    if isinstance(exc, (MemoryError, OSError)) and not isinstance(exc, FileNotFoundError):
        return f"could not be read from the disk ({type(exc).__name__})"
    return ("is damaged or is not a PyTorch weights file (truncated by an interrupted "
            "download or copy, or another kind of file)")


def load_weights_file(path: str | os.PathLike, *, arch: str = "torchvision"
                      ) -> dict[str, torch.Tensor]:
    """Load and validate a pretrained AlexNet state dict of ``arch``'s layout
    (``weights_only``; see :func:`expected_shapes`).

    Raises
    ------
    WeightsMissingError
        No file at ``path``.
    WeightsError
        The file is damaged, holds something other than tensors, or not AlexNet's shapes;
        the message is plain and never advises unsafe loading.
    """
    expected = expected_shapes(arch)
    path = Path(path)
    if not path.is_file():
        raise WeightsMissingError(f"Weights file not found: {path}")
    hint = (f"Expected torchvision's ImageNet AlexNet file {WEIGHTS_FILE}; copy it again "
            f"from a computer where torchvision downloaded it, or fetch it from {WEIGHTS_URL}.")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        raise WeightsError(f"The weights file {path} {unreadable_reason(path, exc)}. "
                           f"{hint}") from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise WeightsError(f"The weights file {path} does not hold a state dict (it holds a "
                           f"{type(sd).__name__}). {hint}")
    not_tensors = [f"{k} ({type(sd[k]).__name__})" for k in expected
                   if k in sd and not isinstance(sd[k], torch.Tensor)]
    if not_tensors:
        raise WeightsError(f"The weights file {path} holds values that are not tensors where "
                           f"AlexNet's weights belong: {', '.join(not_tensors[:4])}. {hint}")
    not_float = [k for k in expected if k in sd and not sd[k].is_floating_point()]
    if not_float:
        raise WeightsError(f"The weights file {path} holds non-floating-point tensors where "
                           f"AlexNet's weights belong: {', '.join(not_float[:4])}. {hint}")
    missing = [k for k in expected if k not in sd]
    wrong = [
        f"{k}: {tuple(sd[k].shape)} (expected {s})"
        for k, s in expected.items()
        if k in sd and tuple(sd[k].shape) != s
    ]
    if missing or wrong:
        detail = "; ".join(([f"missing {', '.join(missing[:4])}"] if missing else []) + wrong[:4])
        if arch == "bvlc":
            raise WeightsError(f"{path} is not an AlexNet in the BVLC (Table I) layout "
                               f"({detail}); see core.train.bvlc for its layer names.")
        raise WeightsError(
            f"{path} is not torchvision's ImageNet AlexNet ({detail}). Expected the file "
            f"{WEIGHTS_FILE} for torchvision.models.alexnet."
        )
    return {k: sd[k] for k in expected}


def _resolved(path: Path, source: str, arch: str = "torchvision") -> ResolvedWeights:
    sd = load_weights_file(path, arch=arch)  # validates first: a missing file says so plainly
    return ResolvedWeights(path, source, file_sha256(path), sd)


def download_allowed() -> bool:
    """Downloads happen only when ``LAYERTUNE_ALLOW_DOWNLOAD=1`` (offline by default)."""
    return os.environ.get("LAYERTUNE_ALLOW_DOWNLOAD", "") == "1"


def resolve_weights(
    path: str | os.PathLike | None = None, *, allow_download: bool | None = None,
    arch: str = "torchvision",
) -> ResolvedWeights:
    """Find, load and validate the ImageNet AlexNet weights.

    ``path`` when given; else imported custom weights (:func:`custom_path`), else
    torchvision's file in the torch cache, else a download where allowed.
    :attr:`ResolvedWeights.original` tells torchvision's file from custom weights.

    Raises
    ------
    WeightsMissingError
        When no file is available (message names the expected file and folder).
    WeightsError
        When a file exists but is not usable.
    """
    if arch != "torchvision":  # only a file the user gives can be in another layout
        if path is None:
            raise WeightsMissingError(
                f"Fine-tuning the {arch.upper()} (Table I) AlexNet needs pretrained weights in "
                "that layout, and none can be fetched: give a weights file (--weights FILE) "
                "or train this architecture from scratch.")
        return _resolved(Path(path), "file", arch)
    if path is not None:
        return _resolved(Path(path), "file")
    if custom_path().is_file():
        return _resolved(custom_path(), "custom")
    p = cache_path()
    if p.is_file():
        return _resolved(p, "cache")
    if allow_download is None:
        allow_download = download_allowed()
    if allow_download:
        try:
            torch.hub.load_state_dict_from_url(WEIGHTS_URL, progress=True, check_hash=True)
        except Exception as exc:
            raise WeightsMissingError(
                f"Downloading the weights failed ({exc}).\n" + missing_message()
            ) from exc
        return _resolved(p, "download")
    raise WeightsMissingError(missing_message())


def install_weights(path: str | os.PathLike) -> ResolvedWeights:
    """Validate ``path`` and copy it where :func:`resolve_weights` finds it from now on.

    torchvision's file (SHA-256 ``7be5be79...``) goes to the torch cache under its own
    name and replaces any custom weights imported before; any other file with AlexNet's
    shapes goes to :func:`custom_path` (never under torchvision's name, where other
    programs would take it for the original) and is used, as custom weights, before the
    cache. Returns the installed file, resolved.
    """
    src = Path(path)
    sd = load_weights_file(src)
    sha = file_sha256(src)
    dest = cache_path() if is_original(sha) else custom_path()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.resolve() != dest.resolve():
        tmp = dest.with_name(f".{dest.name}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dest)
    if is_original(sha):
        custom_path().unlink(missing_ok=True)
    return ResolvedWeights(dest, "custom" if dest == custom_path() else "cache", sha, sd)


def import_weights(path: str | os.PathLike) -> Path:
    """:func:`install_weights`, returning only where the file went."""
    return install_weights(path).path


def find_weights_by_sha256(sha256: str, hint: str | os.PathLike | None = None, *,
                           arch: str = "torchvision") -> dict[str, torch.Tensor]:
    """The state dict of the weights file whose SHA-256 is ``sha256``.

    Looks at ``hint`` (the path recorded when the file was used), the custom weights and
    the torch cache. Snapshots that store only the tuned layers need the exact file the
    run was fine-tuned from.

    Raises
    ------
    WeightsMissingError
        No such file here; the message names the file, its hash and where to put it.
    """
    looked = []
    for cand in ([Path(hint)] if hint else []) + [custom_path(), cache_path()]:
        if cand in (p for p, _ in looked):
            continue
        if not cand.is_file():
            looked.append((cand, "missing"))
            continue
        sha = file_sha256(cand)
        if sha == sha256:
            return load_weights_file(cand, arch=arch)
        looked.append((cand, f"another file, SHA-256 {sha[:8]}..."))
    what = ("torchvision's ImageNet AlexNet file " + WEIGHTS_FILE if is_original(sha256)
            else "the custom weights file " + (Path(hint).name if hint else ""))
    where = "; ".join(f"{p}: {why}" for p, why in looked)
    raise WeightsMissingError(
        f"This model was fine-tuned from {what} (SHA-256 {sha256[:8]}...); its snapshot "
        "stores only the tuned layers, the others come from that file, which is not here "
        f"({where}). Put that exact file back, or import it (File > Import pretrained "
        "weights..., or layertune weights import FILE)."
    )
