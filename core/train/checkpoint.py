"""Model snapshots: a plain state dict plus JSON metadata, written atomically.

``epoch-003-it-000120.pt`` holds the state dict (loaded with ``weights_only=True``: a
file with code in it is refused unread), ``epoch-003-it-000120.json`` the metadata
(depth, epoch, validation AUC, config, seed, versions). Both are written to a temporary
name (``.NAME.XXXX.tmp``) and renamed, so a crash mid-write never leaves a half file; a
kill mid-write leaves the temporary file, which :func:`remove_stale_temp_files` deletes
when the project is next opened.

A fine-tuned model differs from the pretrained weights only in its tuned layers, so its
snapshot stores only those (``"stored": "tuned"``; a few kB at depth fc8 instead of
~220 MB) and names the pretrained file by its SHA-256 (``"pretrained"``);
:func:`load_snapshot` rebuilds the full state dict from that file and the snapshot, and
says plainly when the file is missing or has another hash. Scratch runs store
everything (``"stored": "full"``).

Anything that is not such a snapshot (empty, text, truncated, other shapes, metadata
that does not fit, a pickle with code) raises :class:`SnapshotError`, whose message
never advises loading unsafely.

torch is imported inside the functions: :mod:`core.store` calls
:func:`remove_stale_temp_files` on opening a project and stays free of torch.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

FORMAT = "layertune-snapshot/2"
"""The ``format`` of the snapshots written by :func:`save_snapshot`."""

TEMP_GLOB = ".*.tmp"
"""Temporary files of :func:`_atomic_write` (``.<name>.<random>.tmp``)."""

STALE_AFTER_S = 5.0
"""A temporary file untouched for this long and not locked by a writer is left over."""

try:  # advisory locks: a writer holds one on its temporary file while writing
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class SnapshotError(ValueError):
    """A model snapshot is damaged or not a LayerTune snapshot.

    ``path`` is the file, ``reason`` what is wrong with it, in plain words.
    """

    def __init__(self, path: str | os.PathLike, reason: str, run_id: int | None = None):
        self.path, self.reason, self.run_id = Path(path), reason, run_id
        what = "the model file" if run_id is None else f"the model file of run {run_id}"
        super().__init__(
            f"{what} is damaged or not a LayerTune snapshot: {self.path} ({reason}). "
            "Train the run again (its settings are recorded with it), or put back a copy "
            "of the file from a backup."
        )

    def for_run(self, run_id: int) -> SnapshotError:
        """The same error, naming the run whose model file it is."""
        return SnapshotError(self.path, self.reason, run_id)


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the file is closed (or on a kill)
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            if fcntl is not None:  # renamed while still locked: never taken for a leftover
                os.replace(tmp, path)
        if fcntl is None:
            os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_snapshot(path: str | os.PathLike, state_dict: dict, meta: dict, *,
                  keys=None, pretrained: dict | None = None) -> Path:
    """Write ``path`` (.pt) and its ``.json`` sidecar atomically; returns the .pt path.

    Parameters
    ----------
    path : path
    state_dict : dict
        The model's full state dict.
    meta : dict
        Metadata (JSON-serialisable; numpy and torch scalars are converted).
    keys : iterable of str, optional
        Store only these entries (the tuned layers); the others must be those of the
        ``pretrained`` weights. None, or every key: store everything.
    pretrained : dict, optional
        :meth:`core.train.weights.ResolvedWeights.reference` of the weights the other
        entries come from; required with ``keys``.
    """
    import torch

    path = Path(path)
    keys = None if keys is None or set(keys) >= set(state_dict) else sorted(keys)
    if keys is not None and not (pretrained and pretrained.get("sha256")):
        raise ValueError("a snapshot of some layers needs the pretrained weights' reference")
    cpu = {k: state_dict[k].detach().to("cpu", copy=True) for k in (keys or state_dict)}
    meta = {**meta, "format": FORMAT, "stored": "full" if keys is None else "tuned",
            "stored_keys": keys, "pretrained": pretrained if keys is not None else None}
    _atomic_write(path, lambda f: torch.save(cpu, f))
    text = json.dumps(meta, indent=2, sort_keys=True, default=_json_default).encode()
    _atomic_write(path.with_suffix(".json"), lambda f: f.write(text))
    return path


def _read_meta(path: Path) -> dict:
    meta_path = path.with_suffix(".json")
    if not meta_path.is_file():
        return {}  # a bare state dict (the first releases wrote the sidecar; tolerate none)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise SnapshotError(path, f"its metadata {meta_path.name} is not readable JSON"
                            ) from None
    if not isinstance(meta, dict):
        raise SnapshotError(path, f"its metadata {meta_path.name} is not a JSON object")
    if meta.get("stored", "full") not in ("full", "tuned"):
        raise SnapshotError(path, f"its metadata says stored={meta.get('stored')!r}")
    return meta


def _read_state(path: Path) -> dict:
    import torch

    from core.train.weights import unreadable_reason

    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files; never show its text
        raise SnapshotError(path, f"the file {unreadable_reason(path, exc)}") from None
    if not isinstance(sd, dict):
        raise SnapshotError(path, f"it holds a {type(sd).__name__}, not a model's weights")
    if not sd:
        raise SnapshotError(path, "it holds no weights")
    bad = [str(k) for k, v in sd.items()
           if not isinstance(k, str) or not isinstance(v, torch.Tensor)
           or not v.is_floating_point()]
    if bad:
        raise SnapshotError(path, f"entries that are not weight tensors: {', '.join(bad[:4])}")
    return sd


def load_snapshot(path: str | os.PathLike) -> tuple[dict, dict]:
    """(full state dict, metadata) of a snapshot written by :func:`save_snapshot`.

    A snapshot of the tuned layers is completed from the pretrained weights file it
    names (found by its SHA-256).

    Raises
    ------
    SnapshotError
        The file is missing, damaged, or not a LayerTune snapshot.
    core.train.weights.WeightsMissingError
        The pretrained file the snapshot was made from is not here (or has another hash).
    """
    path = Path(path)
    if not path.is_file():
        raise SnapshotError(path, "the file is missing")
    meta = _read_meta(path)
    sd = _read_state(path)
    if meta.get("stored") == "tuned":
        ref = meta.get("pretrained")
        if not isinstance(ref, dict) or not isinstance(ref.get("sha256"), str):
            raise SnapshotError(path, "it stores some layers but names no pretrained weights")
        from core.train.weights import find_weights_by_sha256

        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        pre = find_weights_by_sha256(ref["sha256"], ref.get("path"),
                                     arch=config.get("arch", "torchvision"))
        sd = {**{k: v for k, v in pre.items() if not k.startswith("classifier.6.")}, **sd}
    return sd, meta


def load_model(path: str | os.PathLike, n_classes: int | None = None):
    """(model, metadata): the network of a snapshot, its weights loaded.

    ``n_classes`` is what the caller's task expects; a snapshot for another number of
    classes (in its metadata or its last layer) is a :class:`SnapshotError`.
    """
    from core.train.model import build_alexnet

    path = Path(path)
    sd, meta = load_snapshot(path)
    fc8 = sd.get("classifier.6.weight")
    if fc8 is None or fc8.ndim != 2:
        raise SnapshotError(path, "it has no AlexNet output layer (classifier.6)")
    rows = int(fc8.shape[0])
    said = meta.get("n_classes", rows)
    if not isinstance(said, int) or said != rows:
        raise SnapshotError(path, f"its metadata names {said!r} classes but its output "
                            f"layer has {rows}")
    if n_classes is not None and rows != n_classes:
        raise SnapshotError(path, f"it is a model of {rows} classes; this task has {n_classes}")
    config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    try:
        model = build_alexnet(rows, arch=config.get("arch", "torchvision"))
        model.load_state_dict(sd)
    except (RuntimeError, ValueError, TypeError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SnapshotError(path, f"its weights do not fit the network ({detail[:200]})"
                            ) from None
    return model, meta


def snapshot_files(folder: str | os.PathLike) -> list[Path]:
    """Every file of a run's snapshot folder (snapshots, sidecars, leftovers)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def disk_usage(folder: str | os.PathLike) -> int:
    """Bytes used by the files of a run's snapshot folder."""
    total = 0
    for p in snapshot_files(folder):
        try:
            total += p.stat().st_size
        except OSError:
            pass
    return total


def _in_use(path: Path) -> bool:
    """Whether a writer holds the temporary file (its lock), or may be about to."""
    try:
        if time.time() - path.stat().st_mtime < STALE_AFTER_S:
            return True
        if fcntl is None:
            return time.time() - path.stat().st_mtime < 600.0
        with open(path, "rb") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return False
    except OSError:  # gone already (renamed by its writer) or unreadable
        return True


def remove_stale_temp_files(snapshots_dir: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of snapshot writes that were killed (``.*.tmp``).

    A file a running writer holds (its lock), or touched in the last
    :data:`STALE_AFTER_S` seconds, is left alone. Returns the files removed; never
    raises for a file it cannot remove.
    """
    root = Path(snapshots_dir)
    if not root.is_dir():
        return []
    removed = []
    for p in sorted(root.rglob(TEMP_GLOB)):
        if not p.is_file() or _in_use(p):
            continue
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
