"""Colonoscopy frame quality: informative vs non-informative frames (SPEC §1.6).

Frames are resized to 500 x 350; training patches are random 227 x 227 crops (200 per
frame in the paper, configurable for speed); a frame's score is the mean informative
probability over its crops. Evaluation: ROC with DeLong 95 % CI and the sensitivities
at 10 %, 15 % and 20 % false-positive rate.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.events import Notice, Progress
from core.tasks.base import ItemKey, TaskData, register
from core.train.patches import CropDataset, random_offsets
from core.train.sampling import segment_groups

FRAME_SIZE = (350, 500)  # rows, cols
CLASS_NAMES = ("non-informative", "informative")
LABEL_KEYS = {"non-informative": 0, "informative": 1, "0": 0, "1": 1}


@dataclass(frozen=True)
class FrameTaskConfig:
    """Patch extraction of the frame-quality task."""

    crops_per_frame: int = 200
    test_crops: int = 200
    preview_crops: int = 4
    preview_max_frames: int = 300
    crop: int = 227


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
    from core.io.importer import open_study
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


def _crop_dataset(images, labels, items, groups, n_crops, crop, rng) -> CropDataset:
    n = len(images)
    image_of_patch = np.repeat(np.arange(n), n_crops)
    offsets = random_offsets(n * n_crops, FRAME_SIZE, crop, rng)
    rep = lambda a: np.repeat(np.asarray(a, dtype=np.int64), n_crops)  # noqa: E731
    return CropDataset(images, image_of_patch, offsets, rep(labels), rep(items), rep(groups),
                       crop)


@register
class FrameQualityTask:
    name = "frames"
    class_names = CLASS_NAMES
    positive = (1,)

    def __init__(self, config: FrameTaskConfig | None = None) -> None:
        self.config = config or FrameTaskConfig()

    def _labelled(self, project, split: str, *, fraction_rng=None):
        studies = [s for s in project.studies("frames") if s.split == split]
        rows = []
        for s in studies:
            for lab in project.labels(s.id):
                rows.append((s, lab.frame, label_index(lab.value)))
        return studies, rows

    def _data(self, project, split: str, n_crops: int, rng: np.random.Generator,
              study_ids: set[int] | None = None) -> Generator[object, None, TaskData]:
        studies, rows = self._labelled(project, split)
        if study_ids is not None:
            rows = [r for r in rows if r[0].id in study_ids]
        if not rows:
            raise ValueError(f"no labelled frames in the {split} studies; label some frames "
                             "first (keys I / N)")
        images, keys, labels, groups = [], [], [], []
        for s in studies:
            mine = sorted((f, y) for (st, f, y) in rows if st.id == s.id)
            if not mine:
                continue
            arr = yield from load_frames(s, [f for f, _ in mine], project)
            images.append(arr)
            keys += [ItemKey(s.id, f) for f, _ in mine]
            labels += [y for _, y in mine]
            groups += [s.id] * len(mine)
        images_a = np.concatenate(images)
        labels_a = np.asarray(labels, np.int64)
        groups_a = np.asarray(groups, np.int64)
        if split == "train" and len(np.unique(groups_a)) < 2:
            groups_a = segment_groups(np.array([k.index for k in keys]), 5)
            yield Notice("Only one training video: validation uses contiguous segments of it "
                         "instead of a separate video.", "warning")
        ds = _crop_dataset(images_a, labels_a, np.arange(len(keys)), groups_a, n_crops,
                           self.config.crop, rng)
        return TaskData(ds, keys, labels_a)

    def training_data(self, project, rng, study_ids=None):
        return (yield from self._data(project, "train", self.config.crops_per_frame, rng,
                                      study_ids))

    def test_data(self, project, rng, study_ids=None):
        return (yield from self._data(project, "test", self.config.test_crops, rng, study_ids))

    def preview_data(self, study, rng: np.random.Generator, extra_frames: Sequence[int] = (),
                     project=None) -> Generator[object, None, CropDataset]:
        """Crops of frames spread over ``study`` plus ``extra_frames`` (e.g. the labelled
        ones, for the disagreement list); items are frame numbers."""
        step = max(1, int(np.ceil(study.n_frames / self.config.preview_max_frames)))
        extra = np.asarray(extra_frames, dtype=np.int64)
        extra = extra[(extra >= 0) & (extra < study.n_frames)]
        frames = np.union1d(np.arange(0, study.n_frames, step), extra)
        images = yield from load_frames(study, frames, project)
        zeros = np.zeros(len(frames), np.int64)
        return _crop_dataset(images, zeros, frames, zeros, self.config.preview_crops,
                             self.config.crop, rng)
