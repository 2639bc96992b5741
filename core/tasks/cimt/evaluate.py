"""Evaluation of the CIMT task on its test ROIs (SPEC §1.7, §1.3).

Per traced test ROI, from its dense map: thinning, two open snakes, then the mean
absolute vertical distance between the expert's and the system's LI and MA over the
ROI's traced columns (:func:`core.stats.agreement.boundary_distance`), and the IMT of
both (:func:`core.tasks.cimt.boundaries.imt`). Over the ROIs: Tukey box plots with mean
± sd per interface (:func:`core.stats.boxplot.tukey_box`) and Bland-Altman of the IMT,
system minus expert (:func:`core.stats.agreement.bland_altman`). Over the pixels: the
ROC of LI + MA (merged) against background, with DeLong's CI and a CI resampling whole
subjects.

A study's spacing comes from :func:`core.io.ultrasound_spacing.spacing_for` (the DICOM
region holding the ROI, else the study's calibration); when one ROI has none, every
figure is given in pixels.
"""

from __future__ import annotations

import numpy as np

from core.tasks.base import ItemSet
from core.tasks.cimt.results import CimtResult, RoiResult, cimt_verdict


def _spacing(study, box) -> tuple[float, float] | None:
    if study is None:
        return None
    from core.io.ultrasound_spacing import spacing_for

    return spacing_for(study.meta or {}, box)


def _roc(task, items: ItemSet, probs: np.ndarray, rng, n_boot: int):
    from core.stats import roc_analysis

    keep = items.labelled
    labels = np.isin(items.labels[keep], task.positive).astype(np.int64)
    if min(int(labels.sum()), int((1 - labels).sum())) < 2:
        return None
    return roc_analysis(task.scores(probs[keep]), labels, n_boot=n_boot,
                        rng=rng if rng is not None else np.random.default_rng(0),
                        groups=items.groups[keep])


def roi_rows(task, dataset, project) -> list[dict]:
    """Raw per-ROI figures (pixels, spacing) of every traced ROI with a dense map."""
    from core.stats.agreement import boundary_distance
    from core.tasks.base import subject_of
    from core.tasks.cimt.boundaries import imt
    from core.tasks.cimt.predict import boundaries, snake_params

    params = snake_params(task.config.snake)
    studies: dict[int, object] = {}
    rows = []
    for k, (_, roi) in enumerate(dataset.rois):
        if k not in dataset.maps or not roi.traced:
            continue
        if project is not None and roi.study_id not in studies:
            studies[roi.study_id] = project.study(roi.study_id)
        study = studies.get(roi.study_id)
        spacing = _spacing(study, roi.box)
        b = boundaries(dataset.maps[k], roi.box, params=params)
        li_e, ma_e = roi.clipped("LI"), roi.clipped("MA")
        rows.append({
            "roi": roi, "study": getattr(study, "name", str(roi.study_id)),
            "group": subject_of(study) if study is not None else roi.study_id,
            "li_px": boundary_distance(li_e, b.li), "ma_px": boundary_distance(ma_e, b.ma),
            "imt_system_px": np.nan if b.imt is None else b.imt.value_px,
            "imt_expert_px": imt(li_e, ma_e).value_px,
            "dy": None if spacing is None else float(spacing[0]),
        })
    return rows


def evaluate_cimt(task, items: ItemSet, probs: np.ndarray, *, rng=None, project=None,
                  dataset=None) -> CimtResult:
    """The :class:`CimtResult` of a scored test set (see the module docstring)."""
    from core.stats.agreement import bland_altman
    from core.stats.boxplot import tukey_box

    roc = _roc(task, items, probs, rng, task.config.n_boot)
    raw = roi_rows(task, dataset, project) if dataset is not None else []
    unit = "mm" if raw and all(r["dy"] is not None for r in raw) else "px"
    rois = []
    for r in raw:
        f = r["dy"] if unit == "mm" else 1.0
        mm = r["dy"] is not None
        roi = r["roi"]
        rois.append(RoiResult(
            int(roi.study_id), r["study"], int(roi.frame), int(roi.roi_id),
            tuple(int(v) for v in roi.box), int(len(roi.cols)), float(r["li_px"]),
            float(r["ma_px"]), r["li_px"] * r["dy"] if mm else None,
            r["ma_px"] * r["dy"] if mm else None, float(r["imt_system_px"] * f),
            float(r["imt_expert_px"] * f), unit, int(r["group"])))
    li = tukey_box([getattr(r, f"li_{unit}") for r in rois]) if rois else None
    ma = tukey_box([getattr(r, f"ma_{unit}") for r in rois]) if rois else None
    pairs = [(r.imt_system, r.imt_expert) for r in rois if np.isfinite(r.imt_system)]
    agreement = bland_altman([p[0] for p in pairs], [p[1] for p in pairs]) \
        if len(pairs) >= 2 else None
    return CimtResult(unit, tuple(rois), li, ma, agreement, roc,
                      cimt_verdict(rois, unit, li, ma, agreement))
