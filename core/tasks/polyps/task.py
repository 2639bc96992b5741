"""Polyp detection: candidates on colonoscopy frames, polyp vs not (SPEC §1.4).

Items are the candidates the generator stored (:mod:`core.jobs.candidates`), one per
row of the store's ``candidates`` table; an item's index is the candidate's id. Labels
come from the truth (:mod:`.truth`): centre inside a polyp mask component or box is
positive, an expert's accept/reject decision overrides; candidates on frames without
truth are unlabelled.

Patches (:mod:`.patches`): 3 scales x 9 translations x 8 orientations per candidate,
227 x 227, rendered on demand from the frames held in RAM at most ``max_side`` pixels
long (Kvasir-SEG stills are up to 1348 x 1070; the boxes are scaled with them). The
number of patches per candidate kept for training, testing and the live preview is an
option (0 = all 216, the paper); the test score is the mean over every kept patch.

Evaluation: FROC (sensitivity over polyps against false positives per frame) with 95 %
CIs by resampling whole videos (patients); in an image set each still is its own
image and its own resampling unit.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, fields

import cv2
import numpy as np

from core.events import Progress
from core.tasks.base import ItemSet, TaskBase, concat_items, register, subject_of
from core.tasks.polyps.candidates import GENERATOR
from core.tasks.polyps.patches import (
    CandidatePatchDataset,
    PolypPatchConfig,
    box_centers_sides,
    candidate_patch_specs,
)
from core.tasks.polyps.truth import candidate_truth, study_truth

CLASS_NAMES = ("not polyp", "polyp")
SPLITS = ("train", "val", "test", "preview")
FROC_FPS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class PolypTaskConfig:
    """Patch extraction of the polyp task.

    ``train_patches`` / ``test_patches`` / ``preview_patches``: patches kept per
    candidate (0 = all of scales x shifts^2 x orientations), a random subset drawn once
    per dataset. ``max_side``: frames are held at most this many pixels on their longer
    side (never enlarged).
    """

    scales: tuple[float, ...] = (1.0, 1.2, 1.5)
    shifts: tuple[float, ...] = (-0.1, 0.0, 0.1)
    orientations: int = 8
    train_patches: int = 0
    test_patches: int = 0
    preview_patches: int = 8
    preview_max_frames: int = 100
    max_side: int = 512
    n_boot: int = 1000

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", tuple(float(v) for v in self.scales))
        object.__setattr__(self, "shifts", tuple(float(v) for v in self.shifts))
        for f in fields(self):
            if f.name in ("scales", "shifts"):
                continue
            v = getattr(self, f.name)
            least = 1 if f.name in ("orientations", "max_side", "preview_max_frames") else 0
            if int(v) != v or v < least:
                raise ValueError(f"{f.name} must be a whole number >= {least}, got {v}")
            object.__setattr__(self, f.name, int(v))
        _ = self.patch_config  # validates scales, shifts, orientations

    @property
    def patch_config(self) -> PolypPatchConfig:
        return PolypPatchConfig(self.scales, self.shifts, self.orientations)

    def patches_for(self, split: str) -> int:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return {"train": self.train_patches, "val": self.train_patches,
                "test": self.test_patches, "preview": self.preview_patches}[split]


def frame_scale(shape: tuple[int, ...], max_side: int) -> float:
    """The factor frames of ``shape`` (H, W, ...) are resized by: longer side <= max_side."""
    return min(1.0, float(max_side) / max(shape[0], shape[1]))


def load_frames(project, study, frames: Sequence[int], max_side: int
                ) -> Generator[Progress, None, tuple[list[np.ndarray], list[float]]]:
    """Frames of a study (read in frame order) resized to ``max_side``; with their scales."""
    from core.io.importer import open_study  # the reader, on demand (no store import here)

    frames = [int(f) for f in frames]
    out: list[np.ndarray | None] = [None] * len(frames)
    scales = [1.0] * len(frames)
    order = np.argsort(frames, kind="stable")
    with open_study(project, study, 0) as src:
        for k, j in enumerate(order):
            img = src.read(frames[j])
            s = frame_scale(img.shape, max_side)
            if s < 1.0:
                img = cv2.resize(img, (max(1, round(img.shape[1] * s)),
                                       max(1, round(img.shape[0] * s))),
                                 interpolation=cv2.INTER_AREA)
            out[j], scales[j] = img, s
            if k % 8 == 0 or k == len(order) - 1:
                yield Progress("frames", k + 1, len(frames), f"reading {study.name}")
    return out, scales


def image_key(study, frame: int) -> str:
    """The FROC's image id of a frame."""
    return f"{study.id}:{int(frame)}"


def froc_group(study, frame: int) -> str:
    """The FROC's resampling unit of a frame: its subject (patient, video); in an image
    set (stills, no video), the still itself."""
    if study.kind == "images":
        return image_key(study, frame)
    return f"s{subject_of(study)}"


@register
class PolypTask(TaskBase):
    """Polyp candidates: polyp (positive) vs not."""

    name = "polyps"
    title = "Polyps"
    class_names = CLASS_NAMES
    positive = (1,)
    item_kind = "candidate"
    annotation_kinds = ("mask", "box", "point")
    study_kinds = ("video", "frames", "images")
    #: where depths are compared (recommendation, pairwise tests): the CPM's rates
    operating_fps = FROC_FPS
    fp_unit = "frame"

    config_class = PolypTaskConfig

    # ------------------------------------------------------------------ items
    def study_items(self, project, study) -> tuple[ItemSet, list[str | None]]:
        """Every candidate of ``study`` (by frame, then id), its label (-1 where its frame
        has no truth) and the polyp key each one hits (None: none or unknown)."""
        truth = study_truth(project, study.id)
        cands = project.candidates(study.id, generator=GENERATOR)
        ids = np.array([c.id for c in cands], np.int64)
        labels = np.full(len(cands), -1, np.int64)
        lesions: list[str | None] = [None] * len(cands)
        pos = 0
        while pos < len(cands):
            f = cands[pos].frame
            end = pos
            while end < len(cands) and cands[end].frame == f:
                end += 1
            run = cands[pos:end]
            lab, les = candidate_truth(truth.get(int(f)),
                                       np.array([c.center for c in run], np.float64),
                                       np.array([c.extent for c in run], np.float64))
            labels[pos:end], lesions[pos:end] = lab, les
            pos = end
        n = len(cands)
        items = ItemSet(np.full(n, study.id), ids, labels, np.full(n, subject_of(study)),
                        self.item_kind)
        return items, lesions

    def items(self, project, studies) -> ItemSet:
        """The candidates of ``studies`` with their labels (-1: no truth on the frame)."""
        return concat_items((self.study_items(project, s)[0] for s in studies),
                            self.item_kind)

    def preview_items(self, project, study) -> ItemSet:
        """The candidates (labelled or not) of at most ``preview_max_frames`` frames
        spread evenly over ``study``: the scores drawn on its frames while a model trains
        (a long video's every candidate would take minutes per snapshot on a CPU)."""
        items = self.study_items(project, study)[0]
        cands = project.candidates(study.id, generator=GENERATOR)
        frames = np.array([c.frame for c in cands], np.int64)
        uniq = np.unique(frames)
        if len(uniq) <= self.config.preview_max_frames:
            return items
        pick = uniq[np.unique(np.linspace(0, len(uniq) - 1,
                                          self.config.preview_max_frames).round().astype(int))]
        return items.subset(np.flatnonzero(np.isin(frames, pick)))

    # ------------------------------------------------------------------ patches
    def dataset(self, project, items: ItemSet, rng: np.random.Generator, *, split: str
                ) -> Generator[object, None, CandidatePatchDataset]:
        """The augmented patches of ``items`` (candidates); frames decoded once into RAM.

        The dataset's ``items`` are positions in ``items``, its ``groups`` the subjects,
        its ``labels`` the candidates' (-1 stays -1 for unlabelled preview candidates).
        """
        n_patches = self.config.patches_for(split)
        if not len(items):
            raise ValueError(f"no labelled candidates in the {split} studies: run the "
                             "candidate generator and mark polyps (masks) or accept / reject "
                             "candidates first")
        images: list[np.ndarray] = []
        src = np.zeros(len(items), np.int64)
        centers = np.zeros((len(items), 2))
        sides = np.zeros(len(items))
        for study_id, pos in items.by_study().items():
            study = project.study(study_id)
            cands = {c.id: c for c in project.candidates(study_id, generator=GENERATOR)}
            missing = [int(i) for i in items.indices[pos] if int(i) not in cands]
            if missing:
                raise ValueError(f"candidates {missing[:5]} of {study.name} are gone (the "
                                 "generator ran again); start again from the new candidates")
            rows = [cands[int(i)] for i in items.indices[pos]]
            frames = sorted({int(c.frame) for c in rows})
            imgs, scales = yield from load_frames(project, study, frames, self.config.max_side)
            at = {f: len(images) + k for k, f in enumerate(frames)}
            images.extend(imgs)
            c, s = box_centers_sides([c.extent for c in rows])
            fs = np.array([scales[frames.index(int(r.frame))] for r in rows])
            src[pos] = [at[int(r.frame)] for r in rows]
            # pixel-index coordinates scale about the pixel centres
            centers[pos] = (c + 0.5) * fs[:, None] - 0.5
            sides[pos] = s * fs
        specs = candidate_patch_specs(src, centers, sides, self.config.patch_config,
                                      max_patches=n_patches, rng=rng)
        return CandidatePatchDataset.from_candidates(images, specs, items.labels, items.groups)

    def predict(self, model, dataset, *, depth: str = "scratch", device: str = "auto",
                precision: str = "auto") -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
        """(items, probs) of ``dataset`` with the patches built in batches on the device."""
        from core.tasks.polyps.patches_torch import score_candidates

        probs = yield from score_candidates(model, dataset.images, dataset.specs, depth=depth,
                                            device=device, precision=precision)
        items = np.unique(dataset.items)
        return items, probs[items]

    # ------------------------------------------------------------------ results
    def scores(self, probs: np.ndarray) -> np.ndarray:
        return np.asarray(probs, np.float64)[:, list(self.positive)].sum(axis=1)

    def froc_data(self, project, study_ids, score_of) -> dict:
        """The FROC's inputs for candidates scored ``score_of`` (candidate id -> score).

        Every polyp of the studies' frames with truth counts (missed ones too), and
        every such frame counts in the false-positive rate (those without a candidate
        too); candidates without a score or a label are left out. Returns the keyword
        form :func:`core.stats.froc.froc_analysis` and
        :func:`core.stats.recommend.recommend_depth` take: ``scores``, ``lesion_ids``,
        ``image_ids``, ``lesions``, ``images``, ``groups`` (frame -> video).
        """
        scores, lesion_ids, image_ids, lesions, images, groups = [], [], [], [], [], {}
        for study_id in study_ids:
            study = project.study(study_id)
            sitems, slesions = self.study_items(project, study)
            truth = study_truth(project, study_id)
            for f, t in truth.items():
                key = image_key(study, f)
                images.append(key)
                groups[key] = froc_group(study, f)
                lesions += [(key, les) for les in t.lesions]
            cands = {c.id: c for c in project.candidates(study_id, generator=GENERATOR)}
            for cid, y, les in zip(sitems.indices.tolist(), sitems.labels, slesions):
                if y < 0 or cid not in score_of:
                    continue
                scores.append(score_of[cid])
                lesion_ids.append(les)
                image_ids.append(image_key(study, cands[cid].frame))
        return {"scores": np.asarray(scores, np.float64), "lesion_ids": lesion_ids,
                "image_ids": image_ids, "lesions": lesions, "images": images,
                "groups": groups}

    def evaluate(self, items: ItemSet, probs: np.ndarray, *,
                 rng: np.random.Generator | None = None, project=None):
        """FROC of the candidates over the polyps of their studies' frames with truth
        (:meth:`froc_data`). 95 % CIs: bootstrap over whole videos (patients),
        :data:`FROC_FPS` rates, CPM.
        """
        from core.stats.froc import froc_analysis

        if project is None:
            raise ValueError("the polyp FROC needs the project (its masks give the polyps)")
        probs = self.checked_probs(items, probs)
        score_of = dict(zip(items.indices.tolist(), self.scores(probs)))
        d = self.froc_data(project, items.by_study(), score_of)
        seed = int(rng.integers(2**31)) if rng is not None else 0
        return froc_analysis(d.pop("scores"), d.pop("lesion_ids"), d.pop("image_ids"), **d,
                             fps=FROC_FPS, n_boot=self.config.n_boot, seed=seed)
