"""Augmented candidate patches of the polyp task (SPEC §1.4), rendered on demand.

Per candidate (Tajbakhsh et al., TMI 2016, §III-B): the candidate's box enlarged
1.0x, 1.2x and 1.5x; at each scale the candidate location translated by -10 %, 0 and
+10 % of the *resized* box side on each axis (9 positions); each patch taken in the 8
orientations of the dihedral group of the square; all resized to 227 x 227. Borders
by reflection. That is 3 x 9 x 8 = 216 patches per candidate with the defaults.

Nothing is pre-rendered: a :class:`CandidatePatchSpecs` fixes, per patch index, the
source frame, the patch centre, its side and its orientation, and :func:`render_patches`
cuts the pixels when asked for (no randomness at render time, so patch ``i`` is the
same pixels every time; the feature cache of the training engine relies on it).

Geometry (pixel-index coordinates: pixel ``(r, c)`` is centred at ``(r, c)``): a patch of
side ``S`` centred at ``(cr, cc)`` samples output pixel ``(i, j)`` of an ``N x N`` patch at
source ``(cr - S/2 + (i + 0.5) S/N, cc - S/2 + (j + 0.5) S/N)`` by bilinear
interpolation; coordinates outside the image are reflected about the edge pixels'
centres (OpenCV's ``BORDER_REFLECT_101``: ``... 2 1 | 0 1 2 ... W-2 W-1 | W-2 ...``).
The sampling is axis-aligned, so it is separable: each patch needs two tap rows
(:func:`axis_taps`) computed in float64 once, here, and used by both this CPU renderer
and the batched device renderer of :mod:`core.tasks.polyps.patches_torch`; both then do
the same float32 arithmetic in the same order, so they agree to the grey level
(cv2.warpAffine quantises positions to 1/32 px and would differ by several grey levels
at sharp edges). Orientation ``k``: ``np.rot90(base, k % 4)`` then a left-right flip when
``k >= 4``; it permutes pixels of the base patch exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from core.train.sampling import stratify

N_ORIENTATIONS = 8


@dataclass(frozen=True)
class PolypPatchConfig:
    """How the patches of one candidate are made.

    Parameters
    ----------
    scales : tuple of float
        Box enlargement factors (> 0); the patch side is ``box side * scale``.
    shifts : tuple of float
        Translations of the candidate location, as fractions of the resized box side,
        applied on each axis (all row x column combinations: 3 shifts give 9 positions).
    orientations : int
        How many of the dihedral orientations, in the order ``0..7`` (identity, the three
        rotations, then the four mirrored ones): 8 = all, 4 = rotations only, 1 = none.
    size : int
        Output side in pixels (227 for AlexNet).
    max_train_patches, max_test_patches : int
        Patches kept per candidate for training / testing (0 = all); a random subset drawn
        once, when the specs are made (for CPU-bound training). The paper scores every
        patch at test time (SPEC §1.3), hence the default 0.
    """

    scales: tuple[float, ...] = (1.0, 1.2, 1.5)
    shifts: tuple[float, ...] = (-0.1, 0.0, 0.1)
    orientations: int = N_ORIENTATIONS
    size: int = 227
    max_train_patches: int = 0
    max_test_patches: int = 0

    def __post_init__(self) -> None:
        for name in ("scales", "shifts"):
            vals = tuple(float(v) for v in np.atleast_1d(np.asarray(getattr(self, name))))
            if not vals or not all(np.isfinite(vals)):
                raise ValueError(f"{name} must be a non-empty list of finite numbers, "
                                 f"got {getattr(self, name)!r}")
            if len(set(vals)) != len(vals):
                raise ValueError(f"{name} has repeated values: {vals}")
            object.__setattr__(self, name, vals)
        if min(self.scales) <= 0:
            raise ValueError(f"scales must be > 0, got {self.scales}")
        if max(abs(s) for s in self.shifts) >= 1:
            raise ValueError(f"shifts are fractions of the box side, |shift| < 1; got "
                             f"{self.shifts}")
        if int(self.orientations) != self.orientations or not 1 <= self.orientations <= 8:
            raise ValueError(f"orientations must be 1 to 8, got {self.orientations}")
        if int(self.size) != self.size or self.size < 8:
            raise ValueError(f"size must be an integer >= 8, got {self.size}")
        for name in ("max_train_patches", "max_test_patches"):
            v = getattr(self, name)
            if int(v) != v or v < 0:
                raise ValueError(f"{name} must be 0 (all) or a positive integer, got {v}")
        for name in ("orientations", "size", "max_train_patches", "max_test_patches"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def patches_per_candidate(self) -> int:
        """All patches of one candidate: scales x shifts^2 x orientations (216 default)."""
        return len(self.scales) * len(self.shifts) ** 2 * self.orientations

    def to_dict(self) -> dict:
        """JSON-ready; ``PolypPatchConfig(**d)`` rebuilds it."""
        d = asdict(self)
        d["scales"], d["shifts"] = list(self.scales), list(self.shifts)
        return d


@dataclass(frozen=True)
class CandidatePatchSpecs:
    """Where each patch comes from, fixed per index.

    Parameters
    ----------
    source : (P,) int64
        Index of the source frame (into the renderer's frame stack or list).
    center : (P, 2) float64
        (row, col) of the patch centre in pixel-index coordinates (shift included).
    side : (P,) float64
        Patch side in source pixels (box side x scale), > 0.
    orientation : (P,) int64
        Dihedral orientation 0..7.
    item : (P,) int64
        The candidate each patch belongs to (its position in the candidate list).
    size : int
        Output side in pixels.
    n_items : int
        Number of candidates (items ``0 .. n_items-1``; a subset keeps it).
    """

    source: np.ndarray
    center: np.ndarray
    side: np.ndarray
    orientation: np.ndarray
    item: np.ndarray
    size: int = 227
    n_items: int = field(default=-1)

    def __post_init__(self) -> None:
        n = len(self.source)
        conv = {"source": np.int64, "center": np.float64, "side": np.float64,
                "orientation": np.int64, "item": np.int64}
        for name, dt in conv.items():
            a = np.asarray(getattr(self, name), dt)
            if len(a) != n:
                raise ValueError(f"{name} has {len(a)} rows, expected {n}")
            object.__setattr__(self, name, a)
        if self.center.shape != (n, 2):
            raise ValueError(f"center must be (P, 2), got {self.center.shape}")
        if n and not (np.all(np.isfinite(self.center)) and np.all(self.side > 0)
                      and np.all(np.isfinite(self.side))):
            raise ValueError("patch centres must be finite and sides finite and > 0")
        if n and (self.orientation.min() < 0 or self.orientation.max() >= N_ORIENTATIONS):
            raise ValueError("orientations must be 0..7")
        if n and self.source.min() < 0:
            raise ValueError("source indices must be >= 0")
        if self.n_items < 0:
            object.__setattr__(self, "n_items", int(self.item.max()) + 1 if n else 0)

    def __len__(self) -> int:
        return len(self.source)

    def subset(self, idx) -> CandidatePatchSpecs:
        idx = np.asarray(idx)
        return CandidatePatchSpecs(self.source[idx], self.center[idx], self.side[idx],
                                   self.orientation[idx], self.item[idx], self.size,
                                   self.n_items)


def box_centers_sides(boxes) -> tuple[np.ndarray, np.ndarray]:
    """Centres and square sides of boxes ``(row0, col0, row1, col1)`` (end-exclusive).

    Returns
    -------
    centers : (N, 2) float64
        ``((row0 + row1 - 1) / 2, (col0 + col1 - 1) / 2)``: the middle of the box's
        pixels in pixel-index coordinates.
    sides : (N,) float64
        ``max(row1 - row0, col1 - col0)``, at least 1: the square that holds the box.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    centers = np.stack([(b[:, 0] + b[:, 2] - 1) / 2, (b[:, 1] + b[:, 3] - 1) / 2], axis=1)
    sides = np.maximum(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]), 1.0)
    return centers, sides


def candidate_patch_specs(sources, centers, box_sides, config: PolypPatchConfig | None = None,
                          *, max_patches: int = 0, rng: np.random.Generator | None = None
                          ) -> CandidatePatchSpecs:
    """The augmented patches of ``K`` candidates.

    Parameters
    ----------
    sources : (K,) int
        Frame (index into the renderer's frames) of each candidate.
    centers : (K, 2) float
        (row, col) of each candidate.
    box_sides : (K,) float
        Side of each candidate's (square) box in pixels (:func:`box_centers_sides`).
    config : PolypPatchConfig
    max_patches : int
        Keep at most this many patches per candidate (0 = all), drawn without
        replacement from ``rng`` (``default_rng(0)`` when None) once, here; pass
        ``config.max_train_patches`` or ``config.max_test_patches``.

    Returns
    -------
    CandidatePatchSpecs
        Candidate-major; within a candidate by scale, row shift, column shift, then
        orientation (fastest), so runs of orientations share one base patch.
    """
    cfg = config or PolypPatchConfig()
    src = np.asarray(sources, np.int64).reshape(-1)
    ctr = np.asarray(centers, np.float64).reshape(-1, 2)
    bs = np.asarray(box_sides, np.float64).reshape(-1)
    k = len(src)
    if len(ctr) != k or len(bs) != k:
        raise ValueError(f"sources ({k}), centers ({len(ctr)}) and box_sides ({len(bs)}) "
                         "must have the same length")
    if int(max_patches) != max_patches or max_patches < 0:
        raise ValueError(f"max_patches must be 0 (all) or a positive integer, got "
                         f"{max_patches}")
    sc, sh = np.asarray(cfg.scales), np.asarray(cfg.shifts)
    # (candidate, scale, row shift, column shift, orientation), orientation fastest
    ki, si, yi, xi, oi = np.indices((k, len(sc), len(sh), len(sh), cfg.orientations)
                                    ).reshape(5, -1)
    side = bs[ki] * sc[si]
    center = np.stack([ctr[ki, 0] + side * sh[yi], ctr[ki, 1] + side * sh[xi]], axis=1)
    specs = CandidatePatchSpecs(src[ki], center, side, oi, ki, cfg.size, k)
    per = cfg.patches_per_candidate
    if not max_patches or max_patches >= per or k == 0:
        return specs
    rng = rng if rng is not None else np.random.default_rng(0)
    pick = np.sort(np.argsort(rng.random((k, per)), axis=1)[:, :max_patches], axis=1)
    return specs.subset((pick + per * np.arange(k)[:, None]).reshape(-1))


# --------------------------------------------------------------------------- rendering


def axis_taps(centers, sides, size: int, lengths
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear taps along one axis for ``B`` patches, with reflect-101 borders.

    Parameters
    ----------
    centers, sides : (B,) float
        Patch centre and side along this axis, in source pixels.
    size : int
        Output pixels along the axis.
    lengths : (B,) int
        Source image length along the axis (rows or columns) for each patch.

    Returns
    -------
    i0, i1 : (B, size) int64
        The two source pixels of each output pixel (``i1 = min(i0 + 1, L - 1)``).
    w0, w1 : (B, size) float32
        Their weights (``w0 = 1 - w1``).
    """
    c = np.asarray(centers, np.float64)[:, None]
    s = np.asarray(sides, np.float64)[:, None]
    n = np.asarray(lengths, np.int64)[:, None]
    x = c - s / 2 + (np.arange(size) + 0.5) * (s / size)
    period = np.maximum(2 * (n - 1), 1)
    x = np.abs(x) % period
    x = np.where(x > n - 1, period - x, x)
    x = np.where(n == 1, 0.0, x)
    i0 = np.minimum(np.floor(x).astype(np.int64), n - 1)
    w1 = (x - i0).astype(np.float32)
    return i0, np.minimum(i0 + 1, n - 1), np.float32(1) - w1, w1


def frame_shapes(images) -> np.ndarray:
    """(F, 2) int64 (rows, cols) of a frame stack or list, each checked (H, W, 3) uint8."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise ValueError(f"images must be (F, H, W, 3) uint8, got {images.shape} "
                             f"{images.dtype}")
        return np.tile(np.asarray(images.shape[1:3], np.int64), (len(images), 1))
    out = np.zeros((len(images), 2), np.int64)
    for f, im in enumerate(images):
        if im.ndim != 3 or im.shape[-1] != 3 or im.dtype != np.uint8:
            raise ValueError(f"frame {f} must be (H, W, 3) uint8, got {im.shape} {im.dtype}")
        out[f] = im.shape[:2]
    return out


def base_keys(specs: CandidatePatchSpecs, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct un-oriented patches among ``idx``: (positions of one patch of each into
    ``idx``, inverse (B,) mapping each patch to its base)."""
    key = np.column_stack([specs.source[idx], specs.center[idx], specs.side[idx]])
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return first, inv.reshape(-1)


def orient(patch: np.ndarray, k: int) -> np.ndarray:
    """Dihedral orientation ``k`` (0..7) of an (N, N, ...) patch: ``rot90^(k % 4)``, then
    a left-right flip when ``k >= 4``."""
    out = np.rot90(patch, k % 4)
    return out[:, ::-1] if k >= 4 else out


def unorient(patch: np.ndarray, k: int) -> np.ndarray:
    """The inverse of :func:`orient`: ``unorient(orient(p, k), k) == p``."""
    p = patch[:, ::-1] if k >= 4 else patch
    return np.rot90(p, -(k % 4))


def _render_base(image: np.ndarray, ry, cx) -> np.ndarray:
    """One un-oriented patch from its row and column taps (float32, then rounded)."""
    r0, r1, wr0, wr1 = ry
    c0, c1, wc0, wc1 = cx
    top, bot = image[r0], image[r1]  # (N, W, 3) whole rows, then the columns needed
    a, b = top[:, c0].astype(np.float32), top[:, c1].astype(np.float32)
    c, d = bot[:, c0].astype(np.float32), bot[:, c1].astype(np.float32)
    wc0, wc1 = wc0[None, :, None], wc1[None, :, None]
    upper = a * wc0 + b * wc1
    lower = c * wc0 + d * wc1
    out = upper * wr0[:, None, None] + lower * wr1[:, None, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def render_patches(images, specs: CandidatePatchSpecs, idx=None) -> np.ndarray:
    """(B, N, N, 3) uint8 patches ``idx`` (all when None) of ``specs``, on the CPU.

    ``images`` is an (F, H, W, 3) uint8 stack or a list of (H, W, 3) uint8 frames (sizes
    may differ). Each distinct (source, centre, side) is interpolated once and its
    orientations are exact pixel permutations of it.
    """
    idx = np.arange(len(specs)) if idx is None else np.asarray(idx, np.int64).reshape(-1)
    shapes = frame_shapes(images)
    n = specs.size
    out = np.empty((len(idx), n, n, 3), np.uint8)
    if not len(idx):
        return out
    if specs.source[idx].max() >= len(shapes):
        raise ValueError(f"a patch's source frame is beyond the {len(shapes)} frames given")
    first, inv = base_keys(specs, idx)
    b = idx[first]
    src = specs.source[b]
    ry = axis_taps(specs.center[b, 0], specs.side[b], n, shapes[src, 0])
    cx = axis_taps(specs.center[b, 1], specs.side[b], n, shapes[src, 1])
    orients = specs.orientation[idx]
    order = np.argsort(inv, kind="stable")
    ends = np.searchsorted(inv[order], np.arange(1, len(b) + 1))
    for j, group in enumerate(np.split(order, ends[:-1])):
        base = _render_base(images[src[j]], [t[j] for t in ry], [t[j] for t in cx])
        for p in group:
            out[p] = orient(base, int(orients[p]))
    return out


# --------------------------------------------------------------------------- datasets


@dataclass
class CandidatePatchDataset:
    """The augmented patches of a set of candidates, frames in RAM, rendered when asked.

    Same duck type as :class:`core.train.patches.CropDataset` (``labels``, ``items``,
    ``groups``, ``len``, ``batch(idx)``, ``subset(idx)``).

    Parameters
    ----------
    images : (F, H, W, 3) uint8 or list of (H, W, 3) uint8
        The candidates' frames.
    specs : CandidatePatchSpecs
    labels, items, groups : (P,) int
        Class, item (candidate position) and group (video, patient) of each patch.
    """

    images: np.ndarray | Sequence[np.ndarray]
    specs: CandidatePatchSpecs
    labels: np.ndarray
    items: np.ndarray
    groups: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.specs)
        for name in ("labels", "items", "groups"):
            a = np.asarray(getattr(self, name), np.int64)
            if len(a) != n:
                raise ValueError(f"{name} has {len(a)} rows, expected {n}")
            setattr(self, name, a)
        n_frames = len(frame_shapes(self.images))
        if n and self.specs.source.max() >= n_frames:
            raise ValueError(f"a patch's source frame is beyond the {n_frames} frames given")

    @classmethod
    def from_candidates(cls, images, specs: CandidatePatchSpecs, candidate_labels,
                        candidate_groups) -> CandidatePatchDataset:
        """Patches labelled and grouped by their candidate's (``(K,)`` arrays)."""
        lab = np.asarray(candidate_labels, np.int64)
        grp = np.asarray(candidate_groups, np.int64)
        if len(lab) != specs.n_items or len(grp) != specs.n_items:
            raise ValueError(f"expected {specs.n_items} candidate labels and groups, got "
                             f"{len(lab)} and {len(grp)}")
        return cls(images, specs, lab[specs.item], specs.item.copy(), grp[specs.item])

    @property
    def size(self) -> int:
        return self.specs.size

    def __len__(self) -> int:
        return len(self.specs)

    def batch(self, idx) -> np.ndarray:
        """(B, N, N, 3) uint8 patches ``idx``."""
        return render_patches(self.images, self.specs, idx)

    def subset(self, idx) -> CandidatePatchDataset:
        idx = np.asarray(idx, np.int64)
        return CandidatePatchDataset(self.images, self.specs.subset(idx), self.labels[idx],
                                     self.items[idx], self.groups[idx])


def stratified_indices(labels, rng: np.random.Generator, *, max_total: int = 0
                       ) -> np.ndarray:
    """Indices of a class-balanced training set (SPEC §1.3), at most ``max_total``.

    Every class is randomly down-sampled to the rarest one
    (:func:`core.train.sampling.stratify`); with ``max_total`` > 0 each class then keeps
    ``max_total // n_classes`` at random (the paper's 100,000 stratified patches).
    Labels below 0 (unlabelled) are left out. Sorted int64.
    """
    labels = np.asarray(labels, np.int64)
    if int(max_total) != max_total or max_total < 0:
        raise ValueError(f"max_total must be 0 (no cap) or a positive integer, got "
                         f"{max_total}")
    known = np.flatnonzero(labels >= 0)
    keep = known[stratify(labels[known], rng)]
    classes = np.unique(labels[keep])
    if max_total:
        per = int(max_total) // len(classes)
        if per == 0:
            raise ValueError(f"max_total {max_total} is smaller than the {len(classes)} "
                             "classes")
        if per * len(classes) < len(keep):
            keep = np.concatenate([rng.choice(keep[labels[keep] == c], per, replace=False)
                                   for c in classes])
    return np.sort(keep).astype(np.int64)
