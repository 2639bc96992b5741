"""Input checks shared by the statistics modules (private).

Every public function of :mod:`core.stats` validates its arguments here first, so that bad
input fails early with a :class:`ValueError` that says what was expected and where the
first offending value is, whichever function was called.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def check_labels(labels: Any, *, require_both: bool = True) -> np.ndarray:
    """Return ``labels`` as a 1-D bool array (True = positive) or raise ValueError.

    Parameters
    ----------
    labels : array_like, shape (n,)
        0 (negative) / 1 (positive), any numeric dtype, or bool.
    require_both : bool
        Also require at least one case of each class.
    """
    y = np.asarray(labels)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {y.shape}")
    if y.dtype == bool:
        pos = y.copy()
    elif np.issubdtype(y.dtype, np.number):
        bad = ~((y == 0) | (y == 1))  # NaN compares False to both, so it is caught here
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"labels must be 0 (negative) or 1 (positive); found {y[i]!r} at index {i}"
            )
        pos = y == 1
    else:
        raise ValueError(f"labels must be numeric or bool 0/1, got dtype {y.dtype}")
    if require_both:
        n_pos = int(pos.sum())
        if n_pos == 0 or n_pos == pos.size:
            raise ValueError(
                "labels must contain both classes (0 and 1); got "
                f"{n_pos} positive and {pos.size - n_pos} negative cases"
            )
    return pos


def check_scores(scores: Any, n: int | None = None, name: str = "scores") -> np.ndarray:
    """Return ``scores`` as a 1-D float64 array of finite values or raise ValueError.

    Parameters
    ----------
    scores : array_like, shape (n,)
        Real numbers (any numeric dtype or bool).
    n : int, optional
        Required length (the number of labels).
    name : str
        What to call the argument in messages.
    """
    s = np.asarray(scores)
    if s.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {s.shape}")
    if not (np.issubdtype(s.dtype, np.number) or s.dtype == bool):
        raise ValueError(f"{name} must be numeric, got dtype {s.dtype}")
    if np.iscomplexobj(s):
        raise ValueError(f"{name} must be real, got dtype {s.dtype}")
    s = s.astype(np.float64)
    if n is not None and s.size != n:
        raise ValueError(f"{name} has {s.size} values but labels has {n}")
    bad = ~np.isfinite(s)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} must be finite; found {s[i]} at index {i}")
    return s


def check_xy(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(scores as float64, labels as bool)``, both 1-D of one length, both classes present."""
    pos = check_labels(labels)
    return check_scores(scores, pos.size), pos


def check_alpha(alpha: float) -> None:
    """Raise ValueError unless ``0 < alpha < 1``."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def check_fpr(fpr: float) -> float:
    """Return ``fpr`` as a float in [0, 1] or raise ValueError."""
    f = float(fpr)
    if not 0.0 <= f <= 1.0:
        raise ValueError(f"false-positive rate must be in [0, 1], got {fpr}")
    return f


def check_n_boot(n_boot: int) -> int:
    """Return ``n_boot`` as an int >= 0 or raise ValueError."""
    if int(n_boot) != n_boot or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer, got {n_boot}")
    return int(n_boot)


def check_groups(groups: Any, n: int | None = None) -> tuple[np.ndarray, int]:
    """Integer codes of a 1-D array of group keys, and the number of distinct groups.

    Parameters
    ----------
    groups : array_like, shape (n,)
        One key per item (a video or patient id): integers, strings or bools; floats only
        when finite. Items with equal keys form one group.
    n : int, optional
        Required length (the number of items).

    Returns
    -------
    codes : ndarray, shape (n,), int64
        ``codes[i]`` in ``[0, n_groups)``; codes follow the sorted order of the keys.
    n_groups : int
        At least 1 (2 or more is the caller's business).
    """
    g = np.asarray(groups)
    if g.ndim != 1:
        raise ValueError(f"groups must be 1-D, got shape {g.shape}")
    if n is not None and g.size != n:
        raise ValueError(f"groups has {g.size} values but labels has {n}")
    if g.size == 0:
        raise ValueError("groups is empty")
    if np.iscomplexobj(g):
        raise ValueError(f"groups must be integer or string keys, got dtype {g.dtype}")
    if np.issubdtype(g.dtype, np.floating):
        bad = ~np.isfinite(g)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"groups must be finite keys; found {g[i]} at index {i}")
    try:
        keys, codes = np.unique(g, return_inverse=True)
    except TypeError as exc:  # mixed object keys (e.g. None and str) cannot be sorted
        raise ValueError(f"groups must be keys of one type: {exc}") from None
    return codes.reshape(-1).astype(np.int64), int(keys.size)
