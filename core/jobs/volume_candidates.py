"""Run tobogganing over CT studies: store embolus candidates with their vessel axes.

For each study the HU volume is loaded once, :func:`core.tasks.emboli.candidates.
generate_candidates` finds the dark clusters inside contrast-filled vessels, and each
candidate's vessel direction is measured (:func:`core.tasks.emboli.vessel.vessel_axes`)
and stored with it (its patches are cut along that axis). The candidates replace the
study's earlier ones; decisions are annotations at the centres and stay. Recall: the
share of marked emboli hit by at least one candidate, on the studies with marks.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from core.events import Notice, Progress
from core.store.candidates import Candidate
from core.tasks.emboli.candidates import GENERATOR, VERSION, EmboliCandidateParams
from core.tasks.emboli.candidates import generate_candidates as toboggan_candidates
from core.tasks.emboli.truth import candidate_truth, volume_truth


@dataclass
class VolumeCandidateReport:
    generator: str
    version: str
    params: dict
    studies: list[dict] = field(default_factory=list)

    @property
    def n_candidates(self) -> int:
        return sum(s["candidates"] for s in self.studies)

    @property
    def n_emboli(self) -> int:
        return sum(s["emboli"] for s in self.studies)

    @property
    def n_found(self) -> int:
        return sum(s["found"] for s in self.studies)

    @property
    def recall(self) -> float:
        return self.n_found / self.n_emboli if self.n_emboli else float("nan")

    def to_dict(self) -> dict:
        n = len(self.studies)
        return {"generator": self.generator, "version": self.version, "params": self.params,
                "volumes": n, "candidates": self.n_candidates,
                "candidates_per_volume": self.n_candidates / n if n else None,
                "emboli": self.n_emboli, "emboli_found": self.n_found,
                "recall": None if not self.n_emboli else round(self.recall, 4),
                "studies": self.studies}

    def text(self) -> str:
        n = max(len(self.studies), 1)
        rec = ("no emboli marked, so no recall" if not self.n_emboli else
               f"recall {self.recall:.3f} ({self.n_found} of {self.n_emboli} emboli hit)")
        return (f"{self.n_candidates} candidates in {len(self.studies)} volumes "
                f"({self.n_candidates / n:.1f} per volume); {rec}")


def load_hu(project, study) -> Generator[Progress, None, tuple[np.ndarray, object]]:
    """(HU volume int16 (Z, Y, X), its VolumeGeometry) of a CT study."""
    from core.io.importer import open_study  # the reader, on demand

    with open_study(project, study) as vol:
        hu = yield from vol.load()
        geometry = vol.geometry
    out = np.clip(np.rint(hu), -32768, 32767).astype(np.int16)
    return out, geometry


def load_checked_hu(project, study) -> Generator[Progress, None, tuple]:
    """:func:`load_hu`, and the contrast verdict: ``(hu, geometry, study)``.

    The reader judges contrast only on the voxels; the first load runs
    :func:`core.io.dicom_contrast.contrast_check` and stores its verdict in the study's
    ``meta["contrast"]`` (the returned ``study`` carries it), where the workspace's
    warning, ``layertune studies`` and the candidate job read it.
    """
    from core.io.dicom_contrast import contrast_check

    hu, geometry = yield from load_hu(project, study)
    if "contrast" not in (study.meta or {}):
        check = contrast_check(hu, geometry.spacing_mm, orientation=geometry.orientation)
        study = project.update_study_meta(study.id, contrast=asdict(check))
    return hu, geometry, study


def no_contrast_text(meta: dict | None) -> str | None:
    """The warning for a CT study (its ``meta``) judged to have no contrast bolus."""
    c = (meta or {}).get("contrast") or {}
    if c.get("enhanced") is not False:
        return None
    return ("no contrast bolus found: emboli cannot be seen on a CT without contrast "
            f"({c.get('reason') or 'pulmonary arteries too dark'})")


def generate_volume_candidates(project, study_ids: Sequence[int],
                               params: EmboliCandidateParams | None = None,
                               tolerance_mm: float = 2.0
                               ) -> Generator[object, None, VolumeCandidateReport]:
    """Tobogganing candidates (with vessel axes) of every study, stored; the report."""
    from core.io.video import VideoError
    from core.tasks.emboli.vessel import vessel_axes

    params = params or EmboliCandidateParams()
    report = VolumeCandidateReport(GENERATOR, VERSION, _params(params))
    for n, sid in enumerate(study_ids):
        study = project.study(int(sid))
        yield Progress("candidates", n, len(study_ids), f"{study.name}")
        try:
            hu, geometry, study = yield from load_checked_hu(project, study)
        except (OSError, ValueError, VideoError) as exc:
            yield Notice(f"no candidates for {study.name}: {exc}", "warning")
            continue
        if (why := no_contrast_text(study.meta)) is not None:
            yield Notice(f"{study.name}: {why}; its candidates mean little", "warning")
        spacing = tuple(float(v) for v in geometry.spacing_mm)
        cands = yield from toboggan_candidates(hu, spacing, params)
        centers = np.array([c.center_vox for c in cands], float).reshape(-1, 3)
        yield Progress("axes", 0, 1, f"vessel directions of {len(cands)} candidates")
        axes = vessel_axes(hu, centers, spacing) if len(cands) else np.zeros((0, 3))
        rows = [Candidate(None, tuple(float(v) for v in c.center_vox),
                          tuple(float(v) for v in c.extent),
                          params={"axis": [round(float(v), 5) for v in a],
                                  "mean_hu": round(float(c.mean_hu), 1),
                                  "volume_mm3": round(float(c.volume_mm3), 2),
                                  "contrast_fraction": round(float(c.contrast_fraction), 3),
                                  "enclosure": round(float(c.enclosure), 3)})
                for c, a in zip(cands, axes)]
        ids = project.put_candidates(study.id, GENERATOR, VERSION, rows)
        truth = volume_truth(project, study, geometry)
        labels, lesions = candidate_truth(truth, centers, spacing, tolerance_mm)
        project.set_candidate_hits({i: (None if y < 0 else int(y))
                                    for i, y in zip(ids, labels)})
        found = len({k for k in lesions if k is not None and not k.startswith("p")})
        report.studies.append({"study": study.id, "name": study.name,
                               "candidates": len(rows), "emboli": len(truth.lesions),
                               "found": found})
        project.update_study_meta(study.id, candidates={
            "generator": GENERATOR, "version": VERSION, "params": report.params})
    yield Progress("candidates", len(study_ids), len(study_ids), "done")
    return report


def _params(params) -> dict:
    from dataclasses import asdict

    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(params).items()}
