"""Synthetic score/label cases shared by the statistics tests."""

from __future__ import annotations

import numpy as np


def binormal(n: int, d: float, seed: int, ties: int | None = None):
    """n cases, half positive, positives shifted by d; optionally rounded to ``ties`` levels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    s = rng.normal(size=n) + d * y
    if ties is not None:
        s = np.round(s * ties / 4.0)
    return s, y


def psi(s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(m, n) kernel: 1 if positive > negative, 1/2 if tied, 0 otherwise."""
    sp, sn = s[y == 1][:, None], s[y == 0][None, :]
    return (sp > sn) + 0.5 * (sp == sn)
