"""Pulmonary embolism detection: tobogganing candidates in CTPA volumes (SPEC §1.5).

Items are the stored candidates (:mod:`core.jobs.volume_candidates`), each with its
centre (plane, row, col) and vessel axis. Labels come from the truth
(:mod:`.truth`): inside a marked embolus (sphere or mask), or within ``tolerance_mm``.
Patches (:mod:`.patches`): vessel-aligned cross-section and longitudinal planes,
channels (cross, long, long), widths 10/15/20 mm x 3 translations along the vessel x 6
rotations about it = 54 per candidate, rendered on demand from the HU volumes held in
RAM (int16). Evaluation: FROC, sensitivity over emboli against false positives per
volume, 95 % CIs by resampling whole patients; 3 FPs per volume is among the rates.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, fields

import numpy as np

from core.tasks.base import ItemSet, TaskBase, concat_items, register, subject_of
from core.tasks.emboli.candidates import GENERATOR
from core.tasks.emboli.patches import EmboliPatchConfig, EmboliPatchDataset, emboli_patch_specs
from core.tasks.emboli.truth import accepted_lesions, candidate_truth, volume_truth

CLASS_NAMES = ("not embolus", "embolus")
SPLITS = ("train", "val", "test", "preview")
FROC_FPS_PER_VOLUME = (0.5, 1.0, 2.0, 3.0, 4.0, 8.0)


@dataclass(frozen=True)
class EmboliTaskConfig:
    """``train_patches`` / ``test_patches`` / ``preview_patches``: patches kept per
    candidate (0 = all 54); ``tolerance_mm``: the hit rule's slack."""

    train_patches: int = 0
    test_patches: int = 0
    preview_patches: int = 6
    tolerance_mm: float = 2.0
    n_boot: int = 1000

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "tolerance_mm":
                if not (float(v) >= 0 and np.isfinite(float(v))):
                    raise ValueError(f"tolerance_mm must be >= 0, got {v}")
                object.__setattr__(self, f.name, float(v))
            elif int(v) != v or v < 0:
                raise ValueError(f"{f.name} must be a whole number >= 0, got {v}")
            else:
                object.__setattr__(self, f.name, int(v))

    def patches_for(self, split: str) -> int:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        return {"train": self.train_patches, "val": self.train_patches,
                "test": self.test_patches, "preview": self.preview_patches}[split]


def _geometry(study):
    from core.io.geometry3d import VolumeGeometry

    return VolumeGeometry.from_meta(study.meta)


@register
class EmboliTask(TaskBase):
    """Embolus (positive) vs not, per tobogganing candidate."""

    name = "emboli"
    title = "Emboli"
    class_names = CLASS_NAMES
    positive = (1,)
    item_kind = "candidate"
    annotation_kinds = ("sphere", "mask", "point")
    study_kinds = ("ct_series",)
    #: where depths are compared (recommendation, pairwise tests): SPEC §1.5's point
    operating_fps = (3.0,)
    fp_unit = "volume"

    config_class = EmboliTaskConfig

    # ------------------------------------------------------------------ items
    def study_items(self, project, study) -> tuple[ItemSet, list[str | None], object]:
        """Every candidate of ``study``, its label, its embolus key, and the truth."""
        cands = project.candidates(study.id, generator=GENERATOR)
        truth = volume_truth(project, study, _geometry(study))
        centers = np.array([c.center for c in cands], float).reshape(-1, 3)
        spacing = study.meta.get("spacing_mm")
        labels, lesions = candidate_truth(truth, centers, spacing, self.config.tolerance_mm)
        n = len(cands)
        items = ItemSet(np.full(n, study.id), [c.id for c in cands], labels,
                        np.full(n, subject_of(study)), self.item_kind)
        return items, lesions, truth

    def items(self, project, studies) -> ItemSet:
        return concat_items((self.study_items(project, s)[0] for s in studies),
                            self.item_kind)

    def preview_items(self, project, study) -> ItemSet:
        return self.study_items(project, study)[0]

    # ------------------------------------------------------------------ patches
    def dataset(self, project, items: ItemSet, rng: np.random.Generator, *, split: str
                ) -> Generator[object, None, EmboliPatchDataset]:
        """Vessel-aligned patches of ``items``; each volume loaded once (int16 HU)."""
        from core.jobs.volume_candidates import load_hu  # the reader, on demand

        if not len(items):
            raise ValueError(f"no labelled candidates in the {split} studies: run the "
                             "tobogganing and mark emboli first")
        volumes, spacings = [], []
        src = np.zeros(len(items), np.int64)
        centers = np.zeros((len(items), 3))
        axes = np.zeros((len(items), 3))
        for study_id, pos in items.by_study().items():
            study = project.study(study_id)
            cands = {c.id: c for c in project.candidates(study_id, generator=GENERATOR)}
            missing = [int(i) for i in items.indices[pos] if int(i) not in cands]
            if missing:
                raise ValueError(f"candidates {missing[:5]} of {study.name} are gone (the "
                                 "generator ran again); start again from the new candidates")
            hu, geometry = yield from load_hu(project, study)
            src[pos] = len(volumes)
            volumes.append(hu)
            spacings.append(tuple(float(v) for v in geometry.spacing_mm))
            rows = [cands[int(i)] for i in items.indices[pos]]
            centers[pos] = [c.center for c in rows]
            axes[pos] = [c.params.get("axis", (1.0, 0.0, 0.0)) for c in rows]
        specs = emboli_patch_specs(src, centers, axes, np.array(spacings), EmboliPatchConfig(),
                                   max_patches=self.config.patches_for(split), rng=rng)
        return EmboliPatchDataset.from_candidates(volumes, specs, items.labels, items.groups)

    # ------------------------------------------------------------------ results
    def scores(self, probs: np.ndarray) -> np.ndarray:
        return np.asarray(probs, np.float64)[:, list(self.positive)].sum(axis=1)

    def froc_data(self, project, study_ids, score_of) -> dict:
        """The FROC's inputs for candidates scored ``score_of`` (candidate id -> score):
        every accepted embolus of the studies, every volume in the FP rate, volumes
        grouped by patient (see :meth:`core.tasks.polyps.PolypTask.froc_data`)."""
        scores, lesion_ids, image_ids, lesions, images, groups = [], [], [], [], [], {}
        for study_id in study_ids:
            study = project.study(study_id)
            sitems, slesions, truth = self.study_items(project, study)
            key = str(study.id)
            images.append(key)
            groups[key] = f"s{subject_of(study)}"
            lesions += [(key, k) for k in accepted_lesions(truth, slesions)]
            for cid, y, les in zip(sitems.indices.tolist(), sitems.labels, slesions):
                if y >= 0 and cid in score_of:
                    scores.append(score_of[cid])
                    lesion_ids.append(les)
                    image_ids.append(key)
        return {"scores": np.asarray(scores, np.float64), "lesion_ids": lesion_ids,
                "image_ids": image_ids, "lesions": lesions, "images": images,
                "groups": groups}

    def evaluate(self, items: ItemSet, probs: np.ndarray, *,
                 rng: np.random.Generator | None = None, project=None):
        """FROC per volume over the emboli of the items' studies (:meth:`froc_data`);
        CIs resample patients."""
        from core.stats.froc import froc_analysis

        if project is None:
            raise ValueError("the emboli FROC needs the project (its marks give the emboli)")
        probs = self.checked_probs(items, probs)
        score_of = dict(zip(items.indices.tolist(), self.scores(probs)))
        d = self.froc_data(project, items.by_study(), score_of)
        seed = int(rng.integers(2**31)) if rng is not None else 0
        return froc_analysis(d.pop("scores"), d.pop("lesion_ids"), d.pop("image_ids"), **d,
                             fps=FROC_FPS_PER_VOLUME, n_boot=self.config.n_boot, seed=seed)
