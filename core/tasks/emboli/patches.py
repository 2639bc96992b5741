"""Vessel-aligned, augmented 2-channel patches of emboli candidates (SPEC §1.5).

Tajbakhsh et al. (TMI 2016, §III-C; MICCAI 2015) represent a CTPA candidate by two planes
through it, aligned with the vessel that holds it: the **cross-section** (perpendicular
to the vessel axis) and a **longitudinal** section (containing the axis). AlexNet wants
3 channels: (cross, long, long). Augmentation per candidate, with the defaults:
3 physical widths (10, 15, 20 mm) x 3 translations of the candidate along the vessel
(-20 %, 0, +20 % of the width) x 6 rotations of the planes about the axis
= 54 patches of 227 x 227 pixels.

As for the polyp task (:mod:`core.tasks.polyps.patches`), nothing is pre-rendered: an
:class:`EmboliPatchSpecs` fixes every patch's geometry per index, and the renderers of
:mod:`core.tasks.emboli.patches_render` resample the volume when asked (no randomness at
render time: patch ``i`` is the same pixels every time).

Geometry (all in **physical (z, y, x) mm**, i.e. voxel-index axes scaled by
``spacing_mm``; a point ``p`` mm is voxel ``p / spacing_mm``):

- ``origin_mm = center_vox * spacing_mm`` is the candidate; ``axis`` the unit vessel
  direction (:func:`core.tasks.emboli.vessel.vessel_axis`); the patch centre is
  ``origin_mm + shift_mm * axis``.
- The in-plane basis ``(u, v)`` is orthonormal and perpendicular to ``axis``, with
  ``v = np.cross(u, axis)`` on (z, y, x) components (so ``(u, v, axis)`` is
  right-handed in physical (x, y, z) terms). The base
  ``u0`` is the coordinate axis least aligned with the vessel (ties: x, then y, then z)
  made perpendicular to it; rotation ``r`` by ``theta_r`` about the axis gives
  ``u = cos u0 + sin v0``, ``v = cos v0 - sin u0``. For a vessel along z the
  unrotated cross-section is the axial view (rows y, columns x).
- Pixel centres lie at offsets ``o_i = (i - (N - 1) / 2) * width_mm / N`` mm (``N``
  pixels span the width, as the polyp patches do). Cross-section pixel ``(i, j)`` is at
  ``centre + o_i v + o_j u``; longitudinal pixel ``(i, j)`` at ``centre + o_i axis +
  o_j u``: the vessel runs down the longitudinal image, both images share their
  horizontal direction ``u``, and their middle rows are the same line.
- Rotations: ``theta_r = rotation_span_deg * r / n_rotations`` (60° steps by default).
  Over a full turn ``r + n/2`` is the half turn of ``r``: its cross-section is the
  same image turned by 180° and its longitudinal section the mirror image (the plane
  seen from the other side). The renderer uses this (exact pixel permutations).
- Translations: fractions ``linspace(-max_translation, max_translation, n)`` of the
  width; with ``snap_translations`` each is rounded to whole output pixels (±45 px of
  227 = ±19.8 %, within the paper's "up to 20 %"), so the longitudinal sections of one
  width and rotation are row windows of one taller section (rendered once).

Window: CT values are mapped to grey levels with the **PE window, level 100 HU, width
700 HU** ([-250, 450] HU): the setting Wittram et al. recommend for reading CTPA
("CT angiography of pulmonary embolism: diagnostic criteria and causes of misdiagnosis",
RadioGraphics 2004;24:1219-38). Opacified pulmonary arteries (~250-450 HU and more)
are bright, acute clot (~20-80 HU) mid-grey, lung black: the filling defect keeps its
contrast, which the usual mediastinal window (W 400, L 40) would squeeze against the
bright lumen and the lung window would lose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from core.tasks.emboli import patches_render as _render
from core.tasks.emboli.patches_render import PE_WINDOW, to_uint8, window_unit

__all__ = ["PE_WINDOW", "EmboliPatchConfig", "EmboliPatchDataset", "EmboliPatchSpecs",
           "emboli_patch_specs", "plane_basis", "to_uint8", "window_unit"]


@dataclass(frozen=True)
class EmboliPatchConfig:
    """How the patches of one candidate are made (SPEC §1.5; module docstring).

    Parameters
    ----------
    widths_mm : tuple of float
        Physical widths of the (square) planes, mm.
    n_translations : int
        Positions of the patch centre along the axis, evenly spread over
        ``[-max_translation, max_translation]`` x width (1: the candidate only).
    max_translation : float
        Largest translation as a fraction of the width, in [0, 1).
    n_rotations : int
        Rotations of the planes about the axis.
    rotation_span_deg : float
        The rotations are ``span * r / n_rotations`` degrees (360: a full turn).
    snap_translations : bool
        Round translations to whole output pixels (the renderer then shares the
        longitudinal sections of the translations).
    size : int
        Output side in pixels (227 for AlexNet).
    window : (float, float)
        (level, width) in HU of the grey-level window.
    max_train_patches, max_test_patches : int
        Patches kept per candidate (0 = all), drawn once when the specs are made.
    """

    widths_mm: tuple[float, ...] = (10.0, 15.0, 20.0)
    n_translations: int = 3
    max_translation: float = 0.2
    n_rotations: int = 6
    rotation_span_deg: float = 360.0
    snap_translations: bool = True
    size: int = 227
    window: tuple[float, float] = PE_WINDOW
    max_train_patches: int = 0
    max_test_patches: int = 0

    def __post_init__(self) -> None:
        w = tuple(float(v) for v in np.atleast_1d(np.asarray(self.widths_mm, np.float64)))
        if not w or not all(np.isfinite(w)) or min(w) <= 0 or len(set(w)) != len(w):
            raise ValueError(f"widths_mm must be distinct positive numbers, got "
                             f"{self.widths_mm!r}")
        object.__setattr__(self, "widths_mm", w)
        for name, lo in (("n_translations", 1), ("n_rotations", 1), ("size", 8),
                         ("max_train_patches", 0), ("max_test_patches", 0)):
            v = getattr(self, name)
            if int(v) != v or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
            object.__setattr__(self, name, int(v))
        if not 0 <= self.max_translation < 1:
            raise ValueError(f"max_translation must be in [0, 1), got {self.max_translation}")
        if not 0 < self.rotation_span_deg <= 360:
            raise ValueError(f"rotation_span_deg must be in (0, 360], got "
                             f"{self.rotation_span_deg}")
        win = tuple(float(v) for v in self.window)
        if len(win) != 2 or not all(np.isfinite(win)) or win[1] <= 0:
            raise ValueError(f"window must be (level, width > 0) in HU, got {self.window!r}")
        object.__setattr__(self, "window", win)

    @property
    def patches_per_candidate(self) -> int:
        """widths x translations x rotations (54 by default)."""
        return len(self.widths_mm) * self.n_translations * self.n_rotations

    def translations(self) -> np.ndarray:
        """(T,) fractions of the width (before snapping)."""
        if self.n_translations == 1:
            return np.zeros(1)
        return np.linspace(-self.max_translation, self.max_translation, self.n_translations)

    def shifts_mm(self) -> np.ndarray:
        """(W, T) translation along the axis in mm for each width and translation."""
        w = np.asarray(self.widths_mm)[:, None]
        f = self.translations()[None, :]
        if self.snap_translations:
            return np.rint(f * self.size) * (w / self.size)
        return f * w

    def rotations(self) -> np.ndarray:
        """(R, 2) (cos, sin) of the rotations; half turns are exact negations."""
        n = self.n_rotations
        th = np.deg2rad(self.rotation_span_deg * np.arange(n) / n)
        cs = np.column_stack([np.cos(th), np.sin(th)])
        cs[np.abs(cs) < 1e-12] = 0.0
        half = 180.0 * n / self.rotation_span_deg  # steps in a half turn
        if abs(half - round(half)) < 1e-9 and 0 < round(half) < n:
            h = int(round(half))
            cs[h:] = -cs[:n - h]  # theta + 180°: exactly (-cos, -sin)
        return cs

    def to_dict(self) -> dict:
        """JSON-ready; ``EmboliPatchConfig(**d)`` rebuilds it."""
        d = asdict(self)
        d["widths_mm"], d["window"] = list(self.widths_mm), list(self.window)
        return d


def _rows(a, name: str, n: int, dtype, width: int | None = None) -> np.ndarray:
    a = np.asarray(a, dtype)
    shape = (n,) if width is None else (n, width)
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
    return a


@dataclass(frozen=True)
class EmboliPatchSpecs:
    """Where each patch comes from, fixed per index (P patches).

    Parameters
    ----------
    source : (P,) int64
        Index of the source volume.
    origin_mm : (P, 3) float64
        The candidate, physical (z, y, x) mm (``center_vox * spacing_mm``).
    shift_mm : (P,) float64
        Translation of the patch centre along ``axis``, mm.
    axis, u, v : (P, 3) float64
        Unit vessel direction and the in-plane basis (rotation applied), physical
        (z, y, x); ``u`` is the columns of both planes, ``v`` the rows of the cross-section.
    width_mm : (P,) float64
        Physical side of the planes, mm.
    spacing_mm : (P, 3) float64
        (dz, dy, dx) of the source volume.
    item : (P,) int64
        The candidate each patch belongs to (its position in the candidate list).
    size : int
        Output side in pixels.
    n_items : int
        Number of candidates (a subset keeps it).
    """

    source: np.ndarray
    origin_mm: np.ndarray
    shift_mm: np.ndarray
    axis: np.ndarray
    u: np.ndarray
    v: np.ndarray
    width_mm: np.ndarray
    spacing_mm: np.ndarray
    item: np.ndarray
    size: int = 227
    n_items: int = field(default=-1)

    def __post_init__(self) -> None:
        n = len(np.asarray(self.source).reshape(-1))
        cols = {"source": (np.int64, None), "origin_mm": (np.float64, 3),
                "shift_mm": (np.float64, None), "axis": (np.float64, 3),
                "u": (np.float64, 3), "v": (np.float64, 3), "width_mm": (np.float64, None),
                "spacing_mm": (np.float64, 3), "item": (np.int64, None)}
        for name, (dt, width) in cols.items():
            object.__setattr__(self, name, _rows(getattr(self, name), name, n, dt, width))
        if n:
            floats = [self.origin_mm, self.shift_mm, self.axis, self.u, self.v,
                      self.width_mm, self.spacing_mm]
            if not all(np.all(np.isfinite(a)) for a in floats):
                raise ValueError("patch geometry must be finite")
            if self.width_mm.min() <= 0 or self.spacing_mm.min() <= 0:
                raise ValueError("widths and spacings must be > 0")
            if self.source.min() < 0:
                raise ValueError("source indices must be >= 0")
            for name in ("axis", "u", "v"):
                if np.abs(np.linalg.norm(getattr(self, name), axis=1) - 1).max() > 1e-6:
                    raise ValueError(f"{name} must be unit vectors")
        if int(self.size) != self.size or self.size < 2:
            raise ValueError(f"size must be an integer >= 2, got {self.size}")
        object.__setattr__(self, "size", int(self.size))
        if self.n_items < 0:
            object.__setattr__(self, "n_items", int(self.item.max()) + 1 if n else 0)

    def __len__(self) -> int:
        return len(self.source)

    @property
    def center_mm(self) -> np.ndarray:
        """(P, 3) patch centres, physical (z, y, x) mm (translation applied)."""
        return self.origin_mm + self.shift_mm[:, None] * self.axis

    @property
    def center_vox(self) -> np.ndarray:
        """(P, 3) patch centres in voxel-index (z, y, x) units."""
        return self.center_mm / self.spacing_mm

    def subset(self, idx) -> EmboliPatchSpecs:
        idx = np.asarray(idx)
        return EmboliPatchSpecs(self.source[idx], self.origin_mm[idx], self.shift_mm[idx],
                                self.axis[idx], self.u[idx], self.v[idx],
                                self.width_mm[idx], self.spacing_mm[idx], self.item[idx],
                                self.size, self.n_items)


def plane_basis(axes) -> tuple[np.ndarray, np.ndarray]:
    """Unrotated in-plane basis ``(u0, v0)``, each (K, 3), of unit ``axes`` (K, 3).

    ``u0``: the coordinate axis least aligned with the vessel (ties: x, then y, then z)
    with its component along the axis removed, normalised; ``v0 = np.cross(u0, axis)``
    on (z, y, x) components.
    """
    a = np.asarray(axes, np.float64).reshape(-1, 3)
    k = 2 - np.argmin(np.abs(a)[:, ::-1], axis=1)  # argmin takes the first: x wins ties
    e = np.eye(3)[k]
    u = e - (e * a).sum(1, keepdims=True) * a
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    return u, np.cross(u, a)


def emboli_patch_specs(sources, centers_vox, axes, spacing_mm,
                       config: EmboliPatchConfig | None = None, *, max_patches: int = 0,
                       rng: np.random.Generator | None = None) -> EmboliPatchSpecs:
    """The augmented patches of ``K`` candidates.

    Parameters
    ----------
    sources : (K,) int
        Volume (index into the renderer's volumes) of each candidate.
    centers_vox : (K, 3) float
        Candidate centres (z, y, x) in voxel-index units.
    axes : (K, 3) float
        Vessel directions in physical (z, y, x) mm (normalised here).
    spacing_mm : (3,) or (S, 3) float
        (dz, dy, dx) of every volume, or per volume (indexed by ``sources``).
    config : EmboliPatchConfig
    max_patches : int
        Keep at most this many patches per candidate (0 = all), drawn without
        replacement from ``rng`` (``default_rng(0)`` when None) once, here.

    Returns
    -------
    EmboliPatchSpecs
        Candidate-major; within a candidate by width, translation, then rotation
        (fastest).
    """
    cfg = config or EmboliPatchConfig()
    src = np.asarray(sources, np.int64).reshape(-1)
    k = len(src)
    ctr = np.asarray(centers_vox, np.float64).reshape(-1, 3)
    ax = np.asarray(axes, np.float64).reshape(-1, 3)
    if len(ctr) != k or len(ax) != k:
        raise ValueError(f"sources ({k}), centers_vox ({len(ctr)}) and axes ({len(ax)}) "
                         "must have the same length")
    if k and src.min() < 0:
        raise ValueError("sources must be >= 0")
    sp = np.asarray(spacing_mm, np.float64)
    if sp.shape == (3,):
        sp = np.tile(sp, (int(src.max()) + 1 if k else 1, 1))
    if sp.ndim != 2 or sp.shape[1] != 3 or (k and len(sp) <= src.max()):
        raise ValueError(f"spacing_mm must be (3,) or (S, 3) covering every source, got "
                         f"{np.shape(spacing_mm)}")
    norm = np.linalg.norm(ax, axis=1, keepdims=True)
    if k and (not np.all(np.isfinite(ax)) or norm.min() < 1e-9):
        raise ValueError("axes must be finite, non-zero vectors")
    ax = ax / np.where(norm > 0, norm, 1.0)
    if int(max_patches) != max_patches or max_patches < 0:
        raise ValueError(f"max_patches must be 0 (all) or a positive integer, got "
                         f"{max_patches}")
    u0, v0 = plane_basis(ax)
    cs = cfg.rotations()
    shifts = cfg.shifts_mm()
    widths = np.asarray(cfg.widths_mm)
    ki, wi, ti, ri = np.indices((k, len(widths), cfg.n_translations, cfg.n_rotations)
                                ).reshape(4, -1)
    c, s = cs[ri, 0:1], cs[ri, 1:2]
    u = c * u0[ki] + s * v0[ki]
    v = c * v0[ki] - s * u0[ki]
    spacing = sp[src[ki]]
    specs = EmboliPatchSpecs(src[ki], ctr[ki] * spacing, shifts[wi, ti], ax[ki], u, v,
                             widths[wi], spacing, ki, cfg.size, k)
    per = cfg.patches_per_candidate
    if not max_patches or max_patches >= per or k == 0:
        return specs
    rng = rng if rng is not None else np.random.default_rng(0)
    pick = np.sort(np.argsort(rng.random((k, per)), axis=1)[:, :max_patches], axis=1)
    return specs.subset((pick + per * np.arange(k)[:, None]).reshape(-1))


# --------------------------------------------------------------------------- dataset


@dataclass
class EmboliPatchDataset:
    """The augmented patches of a set of candidates, volumes in RAM, rendered when asked.

    Same duck type as :class:`core.train.patches.CropDataset` (``labels``, ``items``,
    ``groups``, ``len``, ``batch(idx)``, ``subset(idx)``).

    Parameters
    ----------
    volumes : sequence of (Z, Y, X) float32 HU or int16 arrays
        The candidates' volumes (``specs.source`` indexes them).
    specs : EmboliPatchSpecs
    labels, items, groups : (P,) int
        Class, item (candidate position) and group (patient) of each patch.
    window : (level, width)
        Grey-level window in HU.
    device : str or torch.device or None
        Where the batched renderer resamples (None: the CPU, in float64).
    """

    volumes: Sequence[np.ndarray]
    specs: EmboliPatchSpecs
    labels: np.ndarray
    items: np.ndarray
    groups: np.ndarray
    window: tuple[float, float] = PE_WINDOW
    device: object = None

    def __post_init__(self) -> None:
        n = len(self.specs)
        for name in ("labels", "items", "groups"):
            a = np.asarray(getattr(self, name), np.int64)
            if a.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {a.shape}")
            setattr(self, name, a)
        _render.check_volumes(self.volumes, self.specs)

    @classmethod
    def from_candidates(cls, volumes, specs: EmboliPatchSpecs, candidate_labels,
                        candidate_groups, **kwargs) -> EmboliPatchDataset:
        """Patches labelled and grouped by their candidate's (``(K,)`` arrays)."""
        lab = np.asarray(candidate_labels, np.int64)
        grp = np.asarray(candidate_groups, np.int64)
        if len(lab) != specs.n_items or len(grp) != specs.n_items:
            raise ValueError(f"expected {specs.n_items} candidate labels and groups, got "
                             f"{len(lab)} and {len(grp)}")
        return cls(volumes, specs, lab[specs.item], specs.item.copy(), grp[specs.item],
                   **kwargs)

    @property
    def size(self) -> int:
        return self.specs.size

    def __len__(self) -> int:
        return len(self.specs)

    def planes(self, idx) -> np.ndarray:
        """(B, 2, N, N) float HU planes (cross, long) of patches ``idx``."""
        return _render.render_planes(self.volumes, self.specs, idx, device=self.device)

    def batch(self, idx) -> np.ndarray:
        """(B, N, N, 3) uint8 patches ``idx``, channels (cross, long, long)."""
        return _render.render_patches(self.volumes, self.specs, idx, window=self.window,
                                      device=self.device)

    def subset(self, idx) -> EmboliPatchDataset:
        idx = np.asarray(idx, np.int64)
        return EmboliPatchDataset(self.volumes, self.specs.subset(idx), self.labels[idx],
                                  self.items[idx], self.groups[idx], self.window,
                                  self.device)
