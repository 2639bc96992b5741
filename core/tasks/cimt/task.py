"""Carotid intima-media thickness: 3-class pixels of ultrasound ROIs (SPEC §1.7).

Items are pixels of the expert's ROIs (:mod:`.sampling`): on the LI interface (class
1), on the MA interface (class 2), and background far from both (class 0); their
indices encode ``frame << 32 | row << 16 | col``. The training side is stratified (every
class down-sampled to the rarest, then to ``train_patches`` in all: 200,000 in the
paper). Patches (:mod:`.patches`): each pixel's centred 355 x 355 context patch
(:func:`core.tasks.cimt.pixels.centred_patches`), grey repeated to 3 channels, no
augmentation. The network is AlexNet's context network (:func:`adapt_model`: the same
weights, no padding), for training and test alike.

Scoring a dataset (:meth:`CimtTask.predict`) computes one dense map per ROI
(:mod:`core.tasks.cimt.dense`, equal to classifying each pixel's patch) and reads the
items' probabilities from it. Evaluation (:meth:`CimtTask.evaluate`): per test ROI the
map is thinned and two open snakes converge on it (:mod:`.predict`); the per-ROI mean
distance between expert and system boundary (LI, MA; pixels and mm), the IMT of both,
Tukey box plots, Bland-Altman of IMT, and the pixel AUC with both interfaces merged as
the positive class (SPEC §1.3), with a plain verdict (:mod:`.results`).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field

import numpy as np

from core.events import Progress
from core.tasks.base import ItemSet, TaskBase, concat_items, register, subject_of
from core.tasks.cimt.patches import PixelPatchDataset
from core.tasks.cimt.sampling import decode_index, stratified_subset, study_pixel_items
from core.tasks.cimt.truth import RoiTruth, study_rois

CLASS_NAMES = ("background", "LI", "MA")
STUDY_KINDS = ("us", "image", "video", "frames", "images")


@dataclass(frozen=True)
class CimtTaskConfig:
    """Options of the CIMT task.

    ``train_patches``: training pixels in all after stratification (0: every pixel the
    ROIs give, balanced; paper: 200,000). ``min_distance_px``: background pixels lie at
    least this far (Euclidean, pixels) from both interfaces. ``background_ratio``:
    background pixels drawn per ROI, as a multiple of the larger interface's pixels.
    ``preview_items``: at most this many pixels of a study scored for the live preview.
    ``snake``: options of :class:`core.tasks.cimt.snake.SnakeParams` (name -> value).
    ``n_boot``: bootstrap replicates of the pixel AUC's grouped CI.
    """

    train_patches: int = 0
    min_distance_px: float = 3.0
    background_ratio: float = 2.0
    preview_items: int = 600
    snake: dict = field(default_factory=dict)
    n_boot: int = 1000

    def __post_init__(self) -> None:
        for name in ("train_patches", "preview_items", "n_boot"):
            v = getattr(self, name)
            if int(v) != v or v < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {v}")
            object.__setattr__(self, name, int(v))
        for name, least in (("min_distance_px", 1.0), ("background_ratio", 0.0)):
            v = float(getattr(self, name))
            if not (np.isfinite(v) and v >= least):
                raise ValueError(f"{name} must be a number >= {least:g}, got "
                                 f"{getattr(self, name)}")
            object.__setattr__(self, name, v)
        object.__setattr__(self, "snake", dict(self.snake or {}))


def adapt_model(model):
    """The CIMT network of an AlexNet: its context network (same parameters, no padding;
    :func:`core.tasks.cimt.network.context_net`)."""
    from core.tasks.cimt.network import context_net

    return context_net(model)


def load_grey_frames(project, study, frames) -> Generator[Progress, None, list[np.ndarray]]:
    """Grey (H, W) uint8 frames of ``study`` in the order of ``frames``."""
    import core.io.ultrasound  # noqa: F401  (registers the ultrasound reader)
    from core.io.importer import open_study  # the reader, on demand (no store import here)
    from core.tasks.cimt.pixels import as_grey

    frames = [int(f) for f in frames]
    out: list[np.ndarray] = [np.zeros((0, 0), np.uint8)] * len(frames)
    with open_study(project, study, 0) as src:
        for k, j in enumerate(np.argsort(frames, kind="stable")):
            out[j] = as_grey(src.read(frames[j]))
            yield Progress("frames", k + 1, len(frames), f"reading {study.name}")
    return out


@register
class CimtTask(TaskBase):
    """Pixels of carotid ultrasound ROIs: background, lumen-intima, media-adventitia."""

    name = "cimt"
    title = "CIMT"
    class_names = CLASS_NAMES
    positive = (1, 2)  # AUC merges both interfaces (SPEC §1.3)
    item_kind = "pixel"
    annotation_kinds = ("roi", "polyline")
    study_kinds = STUDY_KINDS
    result_name = "boundaries, IMT"
    evaluates_dataset = True  # evaluate() needs the dataset's dense maps
    config_class = CimtTaskConfig

    # ------------------------------------------------------------------ model
    def adapt_model(self, model):
        return adapt_model(model)

    # ------------------------------------------------------------------ items
    def rois(self, project, study) -> list[RoiTruth]:
        """The ROIs of ``study`` with their truth (see :func:`.truth.study_rois`)."""
        return study_rois(project, study)

    def study_items(self, project, study) -> ItemSet:
        idx, labels = study_pixel_items(self.rois(project, study),
                                        min_distance_px=self.config.min_distance_px,
                                        background_ratio=self.config.background_ratio)
        n = len(idx)
        return ItemSet(np.full(n, study.id), idx, labels, np.full(n, subject_of(study)),
                       self.item_kind)

    def items(self, project, studies) -> ItemSet:
        """The pixel items of the traced ROIs of ``studies`` (all labelled)."""
        return concat_items((self.study_items(project, s) for s in studies), self.item_kind)

    def sampled(self, project, items: ItemSet) -> ItemSet:
        """The stratified training pixels: classes equal, ``train_patches`` in all (0: as
        many as the rarest class allows); the same draw every time (seeded)."""
        if not len(items):
            return items
        keep = stratified_subset(items.labels, self.config.train_patches,
                                 np.random.default_rng(0xC1A7))
        return items.subset(keep)

    def preview_items(self, project, study) -> ItemSet:
        """Pixels of ``study``'s traced ROIs, at most ``preview_items`` (spread evenly)."""
        items = self.study_items(project, study)
        n = self.config.preview_items
        if n == 0 or len(items) <= n:
            return items
        return items.subset(np.unique(np.linspace(0, len(items) - 1, n).round().astype(int)))

    # ------------------------------------------------------------------ patches
    def dataset(self, project, items: ItemSet, rng: np.random.Generator, *, split: str
                ) -> Generator[object, None, PixelPatchDataset]:
        """Centred context patches of ``items``; each needed frame decoded once (grey).

        The dataset's ``items`` are positions in ``items``; its ``rois`` the ROIs those
        pixels lie in (for dense scoring and evaluation). ``rng`` is not used: there is
        nothing random in a pixel's patch.
        """
        if not len(items):
            raise ValueError(f"no pixel items in the {split} studies: draw ROIs and trace "
                             "LI and MA in them first")
        images: list[np.ndarray] = []
        source = np.zeros(len(items), np.int64)
        frame, rows, cols = decode_index(items.indices)
        rois: list[tuple[int, RoiTruth]] = []
        for study_id, pos in items.by_study().items():
            study = project.study(study_id)
            frames = sorted({int(f) for f in frame[pos]})
            grey = yield from load_grey_frames(project, study, frames)
            at = {f: len(images) + k for k, f in enumerate(frames)}
            images.extend(grey)
            source[pos] = [at[int(f)] for f in frame[pos]]
            rois += [(at[r.frame], r) for r in self.rois(project, study)
                     if r.frame in at and r.traced]
        return PixelPatchDataset(images, source, rows, cols, items.labels, np.arange(len(items)),
                                 items.groups, rois=rois)

    def predict(self, model, dataset: PixelPatchDataset, *, depth: str = "scratch",
                device: str = "auto", precision: str = "auto"
                ) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
        """(items, probs (K, 3)) of ``dataset``: one dense map per ROI (kept in
        ``dataset.maps``), each item's probabilities read at its pixel. Items outside
        every ROI (none, for the task's own datasets) are scored patch by patch."""
        from core.tasks.cimt.dense import dense_map
        from core.train.predict import predict as patch_predict

        probs = np.full((len(dataset), len(CLASS_NAMES)), np.nan)
        for k, (_, roi) in enumerate(dataset.rois):
            where = dataset.in_roi(k)
            if not len(where) and k in dataset.maps:
                continue
            if k not in dataset.maps:
                dataset.maps[k] = yield from dense_map(model, dataset.images[dataset.rois[k][0]],
                                                       roi.box, device=device,
                                                       precision=precision)
            r0, c0 = roi.box[0], roi.box[1]
            probs[where] = dataset.maps[k][:, dataset.rows[where] - r0,
                                           dataset.cols[where] - c0].T
        rest = np.flatnonzero(np.isnan(probs[:, 0]))
        if len(rest):
            _, p = yield from patch_predict(adapt_model(model), dataset.subset(rest),
                                            depth=depth, device=device, precision=precision)
            probs[rest] = p
        items = np.unique(dataset.items)
        sums = np.zeros((len(items), probs.shape[1]))
        np.add.at(sums, np.searchsorted(items, dataset.items), probs)
        counts = np.bincount(np.searchsorted(items, dataset.items), minlength=len(items))
        return items, sums / counts[:, None]

    # ------------------------------------------------------------------ results
    def scores(self, probs: np.ndarray) -> np.ndarray:
        """(N,) probability of LI or MA (the merged positive class)."""
        return np.asarray(probs, np.float64)[:, list(self.positive)].sum(axis=1)

    def evaluate(self, items: ItemSet, probs: np.ndarray, *,
                 rng: np.random.Generator | None = None, project=None,
                 dataset: PixelPatchDataset | None = None):
        """Boundary errors per ROI, box plots, IMT agreement and the merged pixel AUC.

        Parameters
        ----------
        items : ItemSet of N pixel items
        probs : (N, 3) float
        rng : numpy.random.Generator, optional
            Source of the AUC's grouped bootstrap (``default_rng(0)`` when None).
        project : the project (study names and pixel spacings)
        dataset : the scored dataset, its ``maps`` filled by :meth:`predict`; without it
            only the pixel AUC is computed.

        Returns
        -------
        core.tasks.cimt.results.CimtResult
        """
        from core.tasks.cimt.evaluate import evaluate_cimt

        probs = self.checked_probs(items, probs)
        return evaluate_cimt(self, items, probs, rng=rng, project=project, dataset=dataset)
