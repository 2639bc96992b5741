"""Leakage check before a run: training and test data that are not independent.

A model tested on frames it (nearly) saw in training looks better than it is. The
store already keeps each subject on one side of the split, so the check looks for what
that rule cannot see:

* ``subject`` -- two subject keys that differ only in case, spaces or punctuation
  (``"Patient 01"`` / ``"patient-01"``): probably one patient on both sides;
* ``same_content`` -- a training and a test study with the same content hash (one file
  imported twice under two subjects);
* ``near_identical`` -- near-identical frames across the split: frames sampled evenly
  through every training and test study, each hashed with the 64-bit DCT perceptual
  hash (pHash: grey, 32 x 32, 2-D DCT, the 8 x 8 lowest frequencies compared with their
  median; Zauner, "Implementation and Benchmarking of Perceptual Image Hash Functions",
  MSc thesis, Hagenberg 2010; the ``imagehash`` library's ``phash``), a pair within
  ``max_distance`` bits (Hamming) flagged. Frames with almost no detail (grey standard
  deviation under ``min_detail``: over-exposed, black, uniform) look alike in every
  video and are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.fft import dct

from core.tasks.base import get_task

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


@dataclass(frozen=True)
class LeakageWarning:
    """One reason to doubt the split; ``pairs``: (train study, frame, test study, frame,
    Hamming distance) for ``near_identical``."""

    kind: str  # "subject" | "same_content" | "near_identical"
    message: str
    train_study: int | None = None
    test_study: int | None = None
    pairs: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "message": self.message, "train_study": self.train_study,
                "test_study": self.test_study, "pairs": [list(p) for p in self.pairs]}


def phash(image: np.ndarray) -> int:
    """64-bit DCT perceptual hash of an image (H, W) grey or (H, W, 3) RGB (Zauner 2010).

    Bit ``i`` (row-major over the 8 x 8 lowest DCT frequencies of the 32 x 32 grey image)
    is set when that coefficient is above the median of the 64.
    """
    grey = np.asarray(image)
    if grey.ndim == 3:
        grey = cv2.cvtColor(np.ascontiguousarray(grey[..., :3], np.uint8), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey.astype(np.float32), (32, 32), interpolation=cv2.INTER_AREA)
    low = dct(dct(small.astype(np.float64), axis=0), axis=1)[:8, :8]  # as imagehash
    bits = (low > np.median(low)).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a, b) -> np.ndarray:
    """Bitwise Hamming distances between 64-bit hashes: ``a`` (N,) x ``b`` (M,) -> (N, M)."""
    a = np.asarray(a, np.uint64)[:, None]
    b = np.asarray(b, np.uint64)[None, :]
    x = np.ascontiguousarray(a ^ b)
    return _POPCOUNT[x.view(np.uint8)].reshape(*x.shape, 8).sum(axis=-1)


def _norm(key: str) -> str:
    return re.sub(r"[\W_]+", "", key or "").casefold()


def _frame_hashes(project, study, n: int, min_detail: float) -> tuple[np.ndarray, np.ndarray]:
    """(frames, hashes) of up to ``n`` frames spread through a study (detailed ones)."""
    from core.io.importer import open_study

    src = open_study(project, study)
    try:
        if not hasattr(src, "read_many"):
            return np.empty(0, np.int64), np.empty(0, np.uint64)
        total = int(src.n_frames)
        frames = np.unique(np.linspace(0, total - 1, min(n, total)).round().astype(np.int64))
        keep, hashes = [], []
        for f in frames:
            img = src.read(int(f))
            grey = cv2.cvtColor(np.ascontiguousarray(img[..., :3]), cv2.COLOR_RGB2GRAY) \
                if img.ndim == 3 else img
            if float(np.std(grey)) < min_detail:
                continue
            keep.append(int(f))
            hashes.append(phash(grey))
        return np.asarray(keep, np.int64), np.asarray(hashes, np.uint64)
    finally:
        src.close()


def leakage_check(project, task: str = "frame_quality", *, frames_per_study: int = 16,
                  max_distance: int = 6, min_detail: float = 8.0) -> list[LeakageWarning]:
    """Warnings about training and test data of ``task`` that may overlap (empty: none).

    Parameters
    ----------
    frames_per_study : frames sampled evenly through each study for the pHash check
    max_distance : most differing bits (of 64) for two frames to count as near-identical
    min_detail : grey standard deviation under which a frame is left out (featureless)
    """
    t = get_task(task)
    train, test = t.studies(project, "train"), t.studies(project, "test")
    out: list[LeakageWarning] = []
    keys = {}
    for s in train:
        keys.setdefault(_norm(s.subject), []).append(s)
    for s in test:
        for tr in keys.get(_norm(s.subject), []) if _norm(s.subject) else []:
            if tr.subject_id != s.subject_id:
                out.append(LeakageWarning(
                    "subject", f"training study {tr.name} (subject {tr.subject!r}) and test "
                    f"study {s.name} (subject {s.subject!r}) look like the same subject",
                    tr.id, s.id))
    hashes = {s.content_hash: s for s in train if s.content_hash}
    for s in test:
        tr = hashes.get(s.content_hash)
        if tr is not None:
            out.append(LeakageWarning("same_content", f"training study {tr.name} and test "
                                      f"study {s.name} hold the same file content", tr.id, s.id))
    if not train or not test:
        return out
    sampled = {}
    for s in train + test:
        try:
            sampled[s.id] = _frame_hashes(project, s, frames_per_study, min_detail)
        except (OSError, ValueError):
            sampled[s.id] = (np.empty(0, np.int64), np.empty(0, np.uint64))
    for s in test:
        fs, hs = sampled[s.id]
        for tr in train:
            ft, ht = sampled[tr.id]
            if not len(hs) or not len(ht):
                continue
            d = hamming(ht, hs)
            i, j = np.nonzero(d <= max_distance)
            if len(i):
                pairs = sorted((tr.id, int(ft[a]), s.id, int(fs[b]), int(d[a, b]))
                               for a, b in zip(i, j))
                p = pairs[0]
                out.append(LeakageWarning(
                    "near_identical", f"{len(pairs)} near-identical frame pairs between "
                    f"training study {tr.name} and test study {s.name} (e.g. frame {p[1]} and "
                    f"frame {p[3]}: {p[4]} of 64 pHash bits differ)", tr.id, s.id, pairs))
    return out
