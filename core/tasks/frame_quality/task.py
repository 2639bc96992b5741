"""Colonoscopy frame quality: informative vs non-informative frames (SPEC §1.6).

Items are frames. Frames are resized to 500 x 350; patches are random 227 x 227 crops
(200 per frame in the paper, configurable for speed), fixed per index when the dataset
is made and cut from the frames held in RAM when asked for; a frame's probabilities are
the mean over its crops. Evaluation: ROC with DeLong 95 % CI and the sensitivities at
10 %, 15 % and 20 % false-positive rate.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, fields

import cv2
import numpy as np

from core.events import Progress
from core.tasks.base import ItemSet, TaskBase, empty_items, register, subject_of
from core.train.patches import CropDataset, PatchSpecs
from core.train.sampling import interval_sample

FRAME_SIZE = (350, 500)  # rows, cols
CLASS_NAMES = ("non-informative", "informative")
LABEL_KEYS = {"non-informative": 0, "informative": 1, "0": 0, "1": 1}
SPLITS = ("train", "val", "test", "preview")


@dataclass(frozen=True)
class FrameTaskConfig:
    """Patch extraction of the frame-quality task.

    ``crops_per_frame`` serves training and validation (the validation frames are a
    share of the training data, SPEC §1.3), ``test_crops`` the test frames,
    ``preview_crops`` the frames spread over a study for the workspace's strip.
    ``sample_interval_s`` > 0 trains on one labelled frame per that many seconds of
    each video (the paper samples one frame every 5 s, SPEC §1.6): the labelled frame
    nearest each sample time ``0, s, 2 s, ...`` (:func:`core.train.sampling.interval_sample`);
    0 uses every labelled frame. It applies to the training side (training and
    validation), not to the test frames.
    """

    crops_per_frame: int = 200
    test_crops: int = 200
    preview_crops: int = 4
    preview_max_frames: int = 300
    crop: int = 227
    sample_interval_s: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "sample_interval_s":
                v = float(self.sample_interval_s)
                if not (v >= 0.0 and np.isfinite(v)):
                    raise ValueError(f"sample_interval_s must be 0 (every labelled frame) or "
                                     f"a number of seconds > 0, got {self.sample_interval_s}")
                object.__setattr__(self, f.name, v)
            elif int(getattr(self, f.name)) < 1:
                raise ValueError(f"{f.name} must be at least 1, got {getattr(self, f.name)}")


def label_index(value: str) -> int:
    try:
        return LABEL_KEYS[value]
    except KeyError:
        raise ValueError(f"unknown frame label {value!r}; use 'informative' or "
                         "'non-informative'") from None


def prepare_frame(frame_rgb: np.ndarray) -> np.ndarray:
    """Resize a decoded (H, W, 3) uint8 RGB frame to the task's 350 x 500."""
    if frame_rgb.shape[:2] == FRAME_SIZE:
        return np.ascontiguousarray(frame_rgb)
    interp = cv2.INTER_AREA if frame_rgb.shape[0] > FRAME_SIZE[0] else cv2.INTER_LINEAR
    return cv2.resize(frame_rgb, FRAME_SIZE[::-1], interpolation=interp)


def load_frames(study, frames: Sequence[int], project=None
                ) -> Generator[Progress, None, np.ndarray]:
    """Decode ``frames`` of ``study`` (sorted, one forward pass) at 350 x 500.

    Returns (len(frames), 350, 500, 3) uint8 RGB in the order of ``frames``.
    """
    from core.io.importer import open_study  # the reader, on demand (no store import here)
    from core.io.video import open_source

    frames = np.asarray(frames, dtype=np.int64)
    out = np.empty((len(frames), *FRAME_SIZE, 3), np.uint8)
    order = np.argsort(frames, kind="stable")
    src = open_study(project, study, 0) if project is not None else open_source(study.path, 0)
    with src:
        for k, j in enumerate(order):
            out[j] = prepare_frame(src.read(int(frames[j])))
            if k % 8 == 0 or k == len(order) - 1:
                yield Progress("frames", k + 1, len(frames), f"reading {study.name}")
    return out


@register
class FrameQualityTask(TaskBase):
    """Informative (positive) vs non-informative frames of colonoscopy videos."""

    name = "frame_quality"
    aliases = ("frames",)  # the schema-1 name
    title = "Frame quality"
    class_names = CLASS_NAMES
    positive = (1,)
    item_kind = "frame"
    annotation_kinds = ("frame_label",)
    study_kinds = ("video", "frames", "images")
    config_class = FrameTaskConfig

    # ------------------------------------------------------------------ items
    def items(self, project, studies) -> ItemSet:
        """The expert-labelled frames of ``studies``, by study then frame."""
        cols: list[list[int]] = [[], [], [], []]
        for s in studies:
            labs = sorted((lab.frame, label_index(lab.value)) for lab in project.labels(s.id))
            subject = subject_of(s)
            for f, y in labs:
                for col, v in zip(cols, (s.id, f, y, subject)):
                    col.append(v)
        return ItemSet(*cols, kind=self.item_kind) if cols[0] else empty_items(self.item_kind)

    def sampled(self, project, items: ItemSet) -> ItemSet:
        """The training items at the sampling interval (all of them when it is 0).

        A study without a frame rate (a folder of frames: already a sample) keeps all its
        labelled frames.
        """
        interval = self.config.sample_interval_s
        if interval <= 0 or not len(items):
            return items
        keep = []
        for study_id, pos in items.by_study().items():
            study = project.study(study_id)
            fps = float(getattr(study, "fps", 0.0) or 0.0)
            keep.append(pos if fps <= 0 else pos[interval_sample(
                items.indices[pos], interval * fps, getattr(study, "n_frames", None))])
        return items.subset(np.sort(np.concatenate(keep)))

    def preview_items(self, project, study, extra_frames: Sequence[int] | None = None
                      ) -> ItemSet:
        """Frames spread over ``study`` (at most ``preview_max_frames``) plus its labelled
        frames (for the disagreement list); labels where the expert gave one, else -1.

        ``extra_frames`` replaces the labelled frames when given.
        """
        labels = {lab.frame: label_index(lab.value) for lab in project.labels(study.id)}
        extra = np.asarray(sorted(labels) if extra_frames is None else extra_frames, np.int64)
        extra = extra[(extra >= 0) & (extra < study.n_frames)]
        step = max(1, int(np.ceil(study.n_frames / self.config.preview_max_frames)))
        frames = np.union1d(np.arange(0, study.n_frames, step), extra)
        n = len(frames)
        return ItemSet(np.full(n, study.id), frames, [labels.get(int(f), -1) for f in frames],
                       np.full(n, subject_of(study)), self.item_kind)

    # ------------------------------------------------------------------ patches
    def crops_for(self, split: str) -> int:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return {"train": self.config.crops_per_frame, "val": self.config.crops_per_frame,
                "test": self.config.test_crops, "preview": self.config.preview_crops}[split]

    def dataset(self, project, items: ItemSet, rng: np.random.Generator, *, split: str
                ) -> Generator[object, None, CropDataset]:
        """Crops of ``items``: the frames are decoded once (350 x 500, in RAM), the crop
        offsets drawn once from ``rng``; patch ``i`` belongs to item ``items[i // n]``.

        The dataset's ``items`` are positions in ``items``, its ``groups`` the subjects,
        its ``labels`` the item labels (-1 stays -1 for unlabelled preview frames).
        """
        n_crops = self.crops_for(split)
        if not len(items):
            raise ValueError(f"no labelled frames in the {split} studies; label some frames "
                             "first (keys I / N)")
        images = np.empty((len(items), *FRAME_SIZE, 3), np.uint8)
        for study_id, pos in items.by_study().items():
            study = project.study(study_id)
            images[pos] = yield from load_frames(study, items.indices[pos], project)
        specs = PatchSpecs.random_crops(len(items), n_crops, FRAME_SIZE, self.config.crop, rng)
        item = specs.source  # one source image per item
        return CropDataset.from_specs(images, specs, items.labels[item], item,
                                      items.groups[item])

    # ------------------------------------------------------------------ results
    def scores(self, probs: np.ndarray) -> np.ndarray:
        """(N,) probability of the positive class(es) from (N, C) probabilities."""
        return np.asarray(probs, np.float64)[:, list(self.positive)].sum(axis=1)

    def evaluate(self, items: ItemSet, probs: np.ndarray, *,
                 rng: np.random.Generator | None = None, project=None):
        """ROC of the labelled items: AUC with DeLong's CI and a video-level bootstrap CI,
        TPR at 10/15/20 % FPR, a pointwise band of the curve.

        Parameters
        ----------
        items : ItemSet of N items
        probs : (N, C) float
            Class probabilities of each item.
        rng : numpy.random.Generator, optional
            Source of the bootstrap resampling (``default_rng(0)`` when None); the
            bootstrap CIs (AUC, operating points, band) resample whole subjects (videos,
            patients): the items' groups are passed, so ``n_groups`` counts the videos.
        project : unused (a detection task reads its lesions from it)

        Returns
        -------
        core.stats.RocResult
        """
        from core.stats import roc_analysis

        probs = self.checked_probs(items, probs)
        keep = items.labelled
        labels = np.isin(items.labels[keep], self.positive).astype(np.int64)
        return roc_analysis(self.scores(probs[keep]), labels, rng=rng,
                            groups=items.groups[keep])

    # ------------------------------------------------------------------ legacy helper
    def preview_data(self, study, rng: np.random.Generator, extra_frames: Sequence[int] = (),
                     project=None) -> Generator[object, None, CropDataset]:
        """Crops of frames spread over ``study`` plus ``extra_frames``, whose dataset
        ``items`` are frame numbers (the shape the first release's callers expect)."""
        if project is None:
            raise ValueError("preview_data needs the project the study belongs to")
        items = self.preview_items(project, study, extra_frames)
        ds = yield from self.dataset(project, items, rng, split="preview")
        return CropDataset(ds.images, ds.image_of_patch, ds.offsets, ds.labels,
                           items.indices[ds.items], ds.groups, ds.size)

