"""Model snapshots: a plain state dict plus JSON metadata, written atomically.

``best.pt`` holds the state dict (loaded with ``weights_only=True``), ``best.json`` the
metadata (depth, epoch, validation AUC, config, seed, versions). Both are written to a
temporary name and renamed, so a crash mid-write never leaves a half file.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_snapshot(path: str | os.PathLike, state_dict: dict, meta: dict) -> Path:
    """Write ``path`` (.pt) and its ``.json`` sidecar atomically; returns the .pt path."""
    path = Path(path)
    cpu = {k: v.detach().to("cpu", copy=True) for k, v in state_dict.items()}
    _atomic_write(path, lambda f: torch.save(cpu, f))
    text = json.dumps(meta, indent=2, sort_keys=True, default=_json_default).encode()
    _atomic_write(path.with_suffix(".json"), lambda f: f.write(text))
    return path


def load_snapshot(path: str | os.PathLike) -> tuple[dict, dict]:
    """(state dict, metadata) of a snapshot written by :func:`save_snapshot`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model snapshot not found: {path}")
    sd = torch.load(path, map_location="cpu", weights_only=True)
    meta_path = path.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return sd, meta


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
