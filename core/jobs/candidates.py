"""Run the candidate generator over studies, store the candidates, measure its recall.

The generator (:mod:`core.tasks.polyps.candidates`) proposes boxes frame by frame; the
candidates of a study replace its earlier ones of the same generator (expert decisions
are annotations at the candidates' centres, so they survive a new run). Each
candidate's hit label is derived from the truth (:mod:`core.tasks.polyps.truth`) and
stored with it. The generator's parameters and version go to the study's ``meta``
under ``"candidates"``.

Recall (SPEC §1.4, "a recall measured on labelled frames"): the share of polyps (mask
components and boxes) with at least one candidate centre inside, over the frames with
truth; candidates per frame are over every frame the generator ran on.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from core.events import Notice, Progress
from core.store.candidates import Candidate
from core.tasks.polyps.candidates import GENERATOR, VERSION, CandidateParams, generate
from core.tasks.polyps.truth import candidate_truth, study_truth


@dataclass
class StudyCandidates:
    """What one study's run of the generator gave."""

    study_id: int
    name: str
    n_frames: int
    n_candidates: int
    n_polyps: int
    n_found: int

    @property
    def recall(self) -> float:
        return self.n_found / self.n_polyps if self.n_polyps else float("nan")


@dataclass
class CandidateReport:
    """The generator's run over some studies: recall and candidates per frame."""

    generator: str
    version: str
    params: dict
    studies: list[StudyCandidates] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return sum(s.n_frames for s in self.studies)

    @property
    def n_candidates(self) -> int:
        return sum(s.n_candidates for s in self.studies)

    @property
    def n_polyps(self) -> int:
        return sum(s.n_polyps for s in self.studies)

    @property
    def n_found(self) -> int:
        return sum(s.n_found for s in self.studies)

    @property
    def recall(self) -> float:
        return self.n_found / self.n_polyps if self.n_polyps else float("nan")

    @property
    def candidates_per_frame(self) -> float:
        return self.n_candidates / self.n_frames if self.n_frames else float("nan")

    def to_dict(self) -> dict:
        def num(v: float):
            return None if np.isnan(v) else round(float(v), 4)

        return {"generator": self.generator, "version": self.version, "params": self.params,
                "frames": self.n_frames, "candidates": self.n_candidates,
                "candidates_per_frame": num(self.candidates_per_frame),
                "polyps": self.n_polyps, "polyps_found": self.n_found,
                "recall": num(self.recall),
                "studies": [{**asdict(s), "recall": num(s.recall)} for s in self.studies]}

    def text(self) -> str:
        rec = ("no polyps marked, so no recall" if not self.n_polyps else
               f"recall {self.recall:.3f} ({self.n_found} of {self.n_polyps} polyps have a "
               "candidate inside)")
        return (f"{self.n_candidates} candidates on {self.n_frames} frames "
                f"({self.candidates_per_frame:.1f} per frame); {rec}")


def study_frames(study, step: int = 1) -> np.ndarray:
    """The frames the generator runs on: every ``step``-th frame of the study."""
    return np.arange(0, int(study.n_frames), max(1, int(step)), dtype=np.int64)


def label_study_candidates(project, study_id: int, generator: str = GENERATOR
                           ) -> tuple[int, int]:
    """Derive and store the hit label of every candidate of a study from its truth.

    Returns (polyps on frames with truth, polyps with a candidate inside).
    """
    truth = study_truth(project, study_id)
    cands = project.candidates(study_id, generator=generator)
    by_frame: dict[int, list] = {}
    for c in cands:
        by_frame.setdefault(int(c.frame), []).append(c)
    hits: dict[int, int | None] = {}
    found: set[tuple[int, str]] = set()
    for f, cs in by_frame.items():
        centers = np.array([c.center for c in cs], np.float64).reshape(-1, 2)
        extents = np.array([c.extent for c in cs], np.float64).reshape(-1, 4)
        labels, lesions = candidate_truth(truth.get(f), centers, extents)
        for c, y, les in zip(cs, labels, lesions):
            hits[c.id] = None if y < 0 else int(y)
            if les is not None and not les.startswith("p"):
                found.add((f, les))
    n_polyps = sum(1 for t in truth.values() for k in t.lesions if not k.startswith("p"))
    project.set_candidate_hits(hits)
    return n_polyps, len(found)


def generate_candidates(project, study_ids: Sequence[int], params: CandidateParams | None = None,
                        *, step: int = 1) -> Generator[object, None, CandidateReport]:
    """Run the generator on every ``step``-th frame of each study and store the results.

    Yields :class:`~core.events.Progress` per frame (so a cancel is honoured within a
    frame) and a :class:`~core.events.Notice` per study that cannot be read (the others
    go on). Returns the :class:`CandidateReport`.
    """
    from core.io.importer import open_study  # the reader, on demand
    from core.io.video import VideoError

    params = params or CandidateParams()
    report = CandidateReport(GENERATOR, VERSION, params.to_dict())
    for n, sid in enumerate(study_ids):
        study = project.study(int(sid))
        frames = study_frames(study, step)
        yield Progress("candidates", 0, len(frames),
                       f"{study.name} ({n + 1} of {len(study_ids)})")
        try:
            with open_study(project, study, 8) as src:
                dets = yield from generate(src.read, frames, params)
        except (OSError, VideoError) as exc:
            yield Notice(f"no candidates for {study.name}: {exc}", "warning")
            continue
        rows = [_candidate(f, d) for f in frames for d in dets.get(int(f), [])]
        project.put_candidates(study.id, GENERATOR, VERSION, rows,
                               frames=None if step == 1 else frames.tolist())
        project.update_study_meta(study.id, candidates={
            "generator": GENERATOR, "version": VERSION, "params": params.to_dict(),
            "step": int(step)})
        n_polyps, n_found = label_study_candidates(project, study.id)
        report.studies.append(StudyCandidates(study.id, study.name, len(frames), len(rows),
                                              n_polyps, n_found))
    return report


def _candidate(frame: int, det) -> Candidate:
    return Candidate(int(frame), tuple(float(v) for v in det.center),
                     tuple(float(v) for v in det.box),
                     params={"strength": round(float(det.strength), 4)})
