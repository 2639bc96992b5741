"""FROC input: candidates, lesions, images and groups as integer codes (private to FROC).

:func:`encode_froc` checks what :func:`core.stats.froc.froc_analysis` is given and turns it
into a :class:`FrocData` of integer codes, so that the curve and every bootstrap replicate
are sums over arrays. :func:`froc_events` puts the scored events of a FROC curve — the
first detection of each lesion and each false positive — in descending score order.

Matching (which lesion a candidate hits) is the caller's business, done before: the hit
rule — "the candidate's centre lies inside the polyp mask"
(:func:`core.tasks.polyps.hits.candidate_lesions`), "within the lesion's radius" (LUNA16)
— gives each candidate a lesion id or none, as MONAI's FROC separates matching from curve
building (STYLE §14).

Keys. Image, lesion and group ids may be strings or integers; they are compared as
strings, so ``3`` and ``"3"`` are one id (a CSV file and an array written by a program
meet). Lesion ids are local to their image: a lesion is the pair (image id, lesion id).
A candidate hits no lesion when its lesion id is None, ``""`` or NaN or, for integer
arrays, ``<= 0`` (the convention of :func:`core.tasks.polyps.hits.candidate_lesions`,
which numbers lesions 1..n and gives 0 for "no lesion").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.stats._checks import check_scores

__all__ = ["PER", "FrocData", "encode_froc", "froc_events"]

PER = ("image", "group")  # what false positives are counted per


def _key(v: Any, what: str) -> str:
    """One id as a string; ValueError for None, NaN, non-integer floats and other types."""
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{what}: {v!r} is not an id (use integers or strings)")
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
        return str(int(v))
    raise ValueError(f"{what}: {v!r} is not an id (use integers or strings)")


def _keys(values: Any, what: str) -> np.ndarray:
    """A 1-D sequence of ids as a str array (integer-valued floats lose their '.0')."""
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {a.shape}")
    if a.dtype.kind in "iu":
        return a.astype(str)
    if a.dtype.kind == "U":
        return a
    return np.asarray([_key(v, f"{what} [{i}]") for i, v in enumerate(a)], dtype=str)


def _is_none(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v == "") or (
        isinstance(v, (float, np.floating)) and not np.isfinite(v))


def _lesion_keys(values: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidates' lesion ids: (str keys, hit mask); a non-hit's key is ''."""
    a = np.asarray(values)
    if a.ndim != 1 or a.size != n:
        raise ValueError(f"lesion_ids must be 1-D with one value per score ({n}), "
                         f"got shape {a.shape}")
    if a.dtype.kind in "iu":
        hit = a > 0
        return np.where(hit, a.astype(str), ""), hit
    if a.dtype.kind == "U":
        return a, a != ""
    if a.dtype.kind == "f":
        hit = np.isfinite(a)
        keys = np.full(n, "", dtype=object)
        keys[hit] = [_key(v, f"lesion_ids [{i}]") for i, v in zip(np.flatnonzero(hit), a[hit])]
        return keys.astype(str), hit
    hit = np.asarray([not _is_none(v) for v in a], dtype=bool)
    keys = [_key(v, f"lesion_ids [{i}]") if h else "" for i, (v, h) in enumerate(zip(a, hit))]
    return np.asarray(keys, dtype=str).reshape(n), hit


def _check_ignore(ignore: Any, n: int) -> np.ndarray:
    if ignore is None:
        return np.zeros(n, dtype=bool)
    g = np.asarray(ignore)
    if g.ndim != 1 or g.size != n:
        raise ValueError(f"ignore must be 1-D with one flag per score ({n}), got shape {g.shape}")
    if g.dtype == bool:
        return g.copy()
    if not np.issubdtype(g.dtype, np.number) or (bad := ~((g == 0) | (g == 1))).any():
        i = 0 if not np.issubdtype(g.dtype, np.number) else int(np.flatnonzero(bad)[0])
        raise ValueError(f"ignore must be 0/1 or bool; found {g[i].item()!r} at index {i}")
    return g == 1


@dataclass(frozen=True, eq=False)
class FrocData:
    """Checked FROC input as integer codes.

    Attributes
    ----------
    scores : ndarray, shape (n,), float64
        Every candidate's score (ignored ones included).
    image : ndarray, shape (n,), int64
        Image code of each candidate, in ``[0, n_images)``.
    lesion : ndarray, shape (n,), int64
        Lesion code of each candidate in ``[0, n_lesions)``, -1 for a false positive.
    ignore : ndarray, shape (n,), bool
        Candidates that are neither true nor false positives.
    lesion_image : ndarray, shape (n_lesions,), int64
        Image code of each lesion.
    image_group : ndarray, shape (n_images,), int64
        Group code of each image, in ``[0, n_groups)``: the position of the group's key in
        ``group_keys`` (each image its own group when none were given).
    image_keys : ndarray of str
        Distinct image ids, sorted as strings (image codes index them).
    group_keys : ndarray of str
        Distinct group keys in their natural order — numerically when every key is an
        integer, else as strings; the bootstrap's draws index this order.
    grouped : bool
        Groups were given (not one group per image).
    """

    scores: np.ndarray
    image: np.ndarray
    lesion: np.ndarray
    ignore: np.ndarray
    lesion_image: np.ndarray
    image_group: np.ndarray
    image_keys: np.ndarray
    group_keys: np.ndarray
    grouped: bool

    @property
    def n_images(self) -> int:
        return int(self.image_keys.size)

    @property
    def n_lesions(self) -> int:
        return int(self.lesion_image.size)

    @property
    def n_groups(self) -> int:
        return int(self.group_keys.size)


def encode_froc(
    scores: Any,
    lesion_ids: Any,
    image_ids: Any,
    *,
    lesions: Iterable[tuple[Any, Any]],
    images: Iterable[Any] | None = None,
    ignore: Any = None,
    groups: Mapping[Any, Any] | None = None,
) -> FrocData:
    """Check the input of :func:`core.stats.froc.froc_analysis` and encode it.

    Parameters are those of :func:`~core.stats.froc.froc_analysis`. Errors name the index
    of the first offending candidate or lesion.

    Raises
    ------
    ValueError
        Arrays of different lengths, a non-finite score, a lesion listed twice, no lesion
        at all, a candidate on a lesion that ``lesions`` lacks, an image missing from
        ``images``, an image without a group.
    """
    s = check_scores(scores)
    n = s.size
    img = _keys(image_ids, "image_ids")
    if img.size != n:
        raise ValueError(f"image_ids has {img.size} values but scores has {n}")
    les_key, hit = _lesion_keys(lesion_ids, n)
    ign = _check_ignore(ignore, n)
    if isinstance(lesions, np.ndarray) and lesions.ndim == 2 and lesions.shape[1] == 2:
        l_img = _keys(lesions[:, 0], "lesions (image ids)")  # an (L, 2) array: no loop
        l_key = _keys(lesions[:, 1], "lesions (lesion ids)")
    else:
        pairs = list(lesions)
        for j, p in enumerate(pairs):
            if not isinstance(p, (tuple, list, np.ndarray)) or len(p) != 2:
                raise ValueError(f"lesions [{j}]: expected an (image_id, lesion_id) pair, "
                                 f"got {p!r}")
        l_img = _keys([p[0] for p in pairs], "lesions (image ids)")
        l_key = _keys([p[1] for p in pairs], "lesions (lesion ids)")
    if l_img.size == 0:
        raise ValueError("lesions is empty: sensitivity needs at least one lesion")
    if images is None:
        image_keys = np.unique(np.concatenate([img, l_img]))
    else:
        listed = _keys(list(images), "images")
        image_keys, first, counts = np.unique(listed, return_index=True, return_counts=True)
        if (counts > 1).any():
            k = int(np.flatnonzero(counts > 1)[0])
            raise ValueError(f"images: image {str(image_keys[k])!r} is listed more than once "
                             f"(first at index {first[k]})")
    cand_img = np.searchsorted(image_keys, img).astype(np.int64)
    les_img = np.searchsorted(image_keys, l_img).astype(np.int64)
    if images is not None:
        for what, keys, at in (("candidate", img, cand_img), ("lesion", l_img, les_img)):
            pos = np.minimum(at, image_keys.size - 1)
            bad = image_keys[pos] != keys if image_keys.size else np.ones(keys.size, bool)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValueError(f"{what} {i}: image {str(keys[i])!r} is not in images")
    # A lesion is the pair (image, lesion id): code it as image * n_ids + id.
    id_keys = np.unique(l_key)
    pair = les_img * id_keys.size + np.searchsorted(id_keys, l_key)
    pair_sorted, first, counts = np.unique(pair, return_index=True, return_counts=True)
    if (counts > 1).any():
        j = int(first[np.flatnonzero(counts > 1)[0]])
        raise ValueError(f"lesions [{j}]: lesion {str(l_key[j])!r} of image "
                         f"{str(l_img[j])!r} is listed more than once")
    lesion = np.full(n, -1, dtype=np.int64)
    if hit.any():
        hi = np.flatnonzero(hit)
        k = np.minimum(np.searchsorted(id_keys, les_key[hi]), id_keys.size - 1)
        cpair = cand_img[hi] * id_keys.size + k
        at = np.minimum(np.searchsorted(pair_sorted, cpair), pair_sorted.size - 1)
        bad = (id_keys[k] != les_key[hi]) | (pair_sorted[at] != cpair)
        if bad.any():
            i = int(hi[np.flatnonzero(bad)[0]])
            raise ValueError(f"candidate {i}: lesion {str(les_key[i])!r} of image "
                             f"{str(img[i])!r} is not in lesions")
        # codes in the order lesions were listed
        lesion[hi] = first[at]
    image_group, group_keys, grouped = _encode_groups(groups, image_keys)
    return FrocData(s, cand_img, lesion, ign, les_img, image_group, image_keys, group_keys,
                    grouped)


def _natural_codes(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct ``keys`` in their natural order — as numbers when every one is an integer,
    else as strings — and the code (position in that order) of each key."""
    uniq, inv = np.unique(keys, return_inverse=True)
    try:
        nums = uniq.astype(np.int64)
    except (ValueError, OverflowError):
        return uniq, inv.reshape(-1).astype(np.int64)
    order = np.lexsort((uniq, nums))  # by number; "7" and "007" by string
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return uniq[order], rank[inv.reshape(-1)]


def _plain_ids(values: Iterable[Any]) -> np.ndarray | None:
    """Ids that are all ``str`` or all ``int`` as a str array (what :func:`_key` gives
    each); None for anything else, which then goes through :func:`_key` one by one."""
    vals = list(values)
    if all(type(v) is str for v in vals):
        return np.asarray(vals, dtype=str)
    if all(type(v) is int for v in vals):
        try:
            keys = np.asarray(vals, dtype=np.int64).astype(str)
        except OverflowError:
            return None
        return keys.astype(f"U{max(1, int(np.char.str_len(keys).max(initial=0)))}")
    return None


def _encode_groups(groups: Mapping[Any, Any] | None,
                   image_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    if groups is None:
        keys, codes = _natural_codes(image_keys)
        return codes, keys, False
    if not isinstance(groups, Mapping):
        raise ValueError("groups must map each image id to its group (video or patient) key")
    names, values = _plain_ids(groups.keys()), _plain_ids(groups.values())
    if names is not None and values is not None:  # all str or all int: no checks per key
        order = np.argsort(names)
        names = names[order]
        at = np.minimum(np.searchsorted(names, image_keys), max(names.size - 1, 0))
        missing = names[at] != image_keys if names.size else np.ones(image_keys.size, bool)
        if missing.any():
            k = str(image_keys[int(np.flatnonzero(missing)[0])])
            raise ValueError(f"groups: image {k!r} has no group")
        keys = values[order][at]
    else:
        by_image: dict[str, str] = {}
        for k, v in groups.items():
            by_image[_key(k, "groups (image id)")] = _key(v, f"groups [{k!r}]")
        try:
            keys = [by_image[k] for k in image_keys.tolist()]
        except KeyError as exc:
            raise ValueError(f"groups: image {exc.args[0]!r} has no group") from None
    group_keys, codes = _natural_codes(np.asarray(keys, dtype=str))
    return codes, group_keys, True


def froc_events(data: FrocData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The scored events of the FROC curve, highest score first.

    A lesion's event is its best-scored (non-ignored) candidate: the threshold at which it
    is first detected; its other candidates are neither true nor false positives. Every
    non-ignored candidate on no lesion is a false-positive event. Ignored candidates and
    missed lesions make no event (missed lesions still count in the sensitivity's
    denominator).

    Returns
    -------
    score : ndarray, shape (e,), float64
        Event scores, non-increasing.
    is_tp : ndarray, shape (e,), bool
        True for a lesion's first detection, False for a false positive.
    image : ndarray, shape (e,), int64
        Image code of each event.
    ends : ndarray, shape (k,), int64
        Index of the last event of each run of equal scores (events with equal scores
        cross the threshold together): the curve's points.
    """
    use = ~data.ignore
    on = use & (data.lesion >= 0)
    best = np.full(data.n_lesions, -np.inf)
    np.maximum.at(best, data.lesion[on], data.scores[on])
    found = np.flatnonzero(np.isfinite(best))
    fp = use & (data.lesion < 0)
    score = np.concatenate([best[found], data.scores[fp]])
    is_tp = np.r_[np.ones(found.size, bool), np.zeros(int(fp.sum()), bool)]
    image = np.concatenate([data.lesion_image[found], data.image[fp]])
    order = np.argsort(-score, kind="mergesort")
    score, is_tp, image = score[order], is_tp[order], image[order]
    ends = np.r_[np.flatnonzero(np.diff(score)), score.size - 1] if score.size else \
        np.zeros(0, np.int64)
    return score, is_tp, image, ends.astype(np.int64)
