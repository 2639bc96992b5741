"""Which items to review after a retrain or a sweep (no Qt: ready to move to ``core``).

* :func:`find_flips` -- the items whose decision changed between two runs' models
  (previous model, new model), each model deciding at its own operating threshold
  (Youden's J on its validation set, ``metrics["threshold"]``; 0.5 when it has none).
* :func:`rank_disagreement` -- the items the models of several runs (different depths)
  disagree on most, for labelling next: ordered first by how evenly the models' votes
  split (query by committee, vote entropy; Seung, Opper & Sompolinsky, COLT 1992; Dagan
  & Engelson, ICML 1995), then by the spread (standard deviation) of their probabilities.

Both read the runs' stored ``preview`` predictions (every study is scored with each new
run, :mod:`app.study_scoring`), so nothing is re-run here.

An item is what the task's model decides on (``item_kind`` of :mod:`core.tasks`): a frame
(frame quality; the expert's answer is the frame's label) or a candidate (polyps, emboli;
the answer is a *decision*, an annotation of kind ``point`` at the candidate's centre
with the task's accept / reject value, exactly as the task's workspace stores it on A /
R: :mod:`core.tasks.polyps.truth`, :mod:`core.tasks.emboli.truth`).
:func:`study_candidates` reads a study's candidates with their decisions,
:func:`store_candidate_decision` writes one, :func:`item_text` names an item for a list.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Flip:
    study_id: int
    item: int
    p_before: float
    p_after: float
    positive_after: bool  # the new model's decision

    @property
    def key(self) -> tuple[int, int]:
        return (self.study_id, self.item)


@dataclass(frozen=True)
class Disagreement:
    study_id: int
    item: int
    n_positive: int  # models voting positive
    n_models: int
    vote_entropy: float  # bits, 0 (all agree) … 1 (an even split)
    spread: float  # standard deviation of the positive-class probabilities
    mean: float


def threshold_of(run) -> float:
    t = (run.metrics or {}).get("threshold")
    v = t.get("value") if isinstance(t, dict) else t
    try:
        v = float(v)
    except (TypeError, ValueError):
        return 0.5
    return v if math.isfinite(v) else 0.5


def positive_scores(project, run, study_ids=None) -> dict[tuple[int, int], float]:
    """``{(study, item): positive-class probability}`` of a run's preview predictions."""
    from core.tasks import get_task

    try:
        positive = list(get_task(run.task).positive)
    except (ValueError, TypeError):
        positive = [1]
    out: dict[tuple[int, int], float] = {}
    for p in project.predictions(run.id, split="preview"):
        if study_ids is not None and p.study_id not in study_ids:
            continue
        probs = p.probs
        cols = [c for c in positive if c < probs.shape[1]] or [probs.shape[1] - 1]
        s = probs[:, cols].sum(axis=1)
        out.update({(p.study_id, int(i)): float(v) for i, v in zip(p.items, s)})
    return out


def find_flips(project, previous_run_id: int, new_run_id: int) -> list[Flip]:
    """Items scored by both runs whose decision differs, largest change first."""
    a, b = project.run(previous_run_id), project.run(new_run_id)
    ta, tb = threshold_of(a), threshold_of(b)
    sa, sb = positive_scores(project, a), positive_scores(project, b)
    flips = []
    for key in sa.keys() & sb.keys():
        before, after = sa[key] >= ta, sb[key] >= tb
        if before != after:
            flips.append(Flip(key[0], key[1], sa[key], sb[key], after))
    flips.sort(key=lambda f: (-abs(f.p_after - f.p_before), f.study_id, f.item))
    return flips


def rank_disagreement(project, run_ids: list[int], *, unlabelled_only: bool = True,
                      limit: int = 500) -> list[Disagreement]:
    """Items scored by at least two of the runs, most disagreed-on first.

    ``unlabelled_only`` leaves out the items the expert already answered: frames with a
    label (frame tasks), candidates with a decision (candidate tasks).
    """
    runs = [project.run(r) for r in run_ids]
    scores = [positive_scores(project, r) for r in runs]
    thresholds = [threshold_of(r) for r in runs]
    keys: dict[tuple[int, int], list[tuple[float, bool]]] = {}
    for s, t in zip(scores, thresholds):
        for k, v in s.items():
            keys.setdefault(k, []).append((v, v >= t))
    labelled: set[tuple[int, int]] = set()
    if unlabelled_only and runs:
        labelled = answered_items(project, runs[-1].task, {k[0] for k in keys})
    out = []
    for (study, item), got in keys.items():
        if len(got) < 2 or (study, item) in labelled:
            continue
        probs = np.array([g[0] for g in got])
        k = sum(g[1] for g in got)
        q = k / len(got)
        h = 0.0 if q in (0.0, 1.0) else float(-(q * math.log2(q) + (1 - q) * math.log2(1 - q)))
        out.append(Disagreement(study, item, int(k), len(got), h, float(probs.std()),
                                float(probs.mean())))
    out.sort(key=lambda d: (-d.vote_entropy, -d.spread, d.study_id, d.item))
    return out[:limit]


# ---------------------------------------------------------------------- items of a task
def item_kind(task_name: str) -> str:
    """``"frame"``, ``"candidate"``, ``"pixel"``... of a task; ``"frame"`` when unknown."""
    import core.tasks  # noqa: F401  (registers the tasks)
    from core.tasks.base import task_class

    try:
        return str(task_class(task_name).item_kind)
    except (ValueError, TypeError, AttributeError):
        return "frame"


def _canonical(task_name: str) -> str:
    from core.tasks.base import canonical_name

    return canonical_name(task_name)


def decision_values(task_name: str) -> tuple[str, str]:
    """(accept, reject): the values of a candidate task's decisions."""
    name = _canonical(task_name)
    if name == "polyps":
        from core.tasks.polyps.truth import ACCEPT, REJECT
    elif name == "emboli":
        from core.tasks.emboli.truth import ACCEPT, REJECT
    else:
        raise ValueError(f"the task {task_name!r} has no candidate decisions")
    return ACCEPT, REJECT


def _generator(task_name: str) -> str:
    name = _canonical(task_name)
    if name == "polyps":
        from core.tasks.polyps.candidates import GENERATOR
    elif name == "emboli":
        from core.tasks.emboli.candidates import GENERATOR
    else:
        raise ValueError(f"the task {task_name!r} has no candidates")
    return GENERATOR


@dataclass
class StudyCandidates:
    """A study's candidates (``by_id``) and the expert's decisions on them
    (``decisions``: candidate id -> (annotation id, value)), by the workspace's rule."""

    task: str
    study: object
    by_id: dict
    decisions: dict[int, tuple[int, str]]

    def decision(self, cid: int) -> str | None:
        d = self.decisions.get(int(cid))
        return None if d is None else d[1]


def _emboli_spacing(study) -> np.ndarray:
    from core.io.geometry3d import VolumeGeometry

    meta = study.meta or {}
    try:
        return np.asarray(VolumeGeometry.from_meta(meta).spacing_mm, float)
    except ValueError:
        sp = meta.get("spacing_mm")
        if sp is None:
            raise
        return np.asarray(sp, float)


def study_candidates(project, task_name: str, study_id: int) -> StudyCandidates:
    """The candidates of ``study_id`` with their decisions.

    Polyps: a candidate's decision is the decision point nearest its centre on its frame
    within reach (:func:`core.tasks.polyps.truth.decision_for`). Emboli: each decision
    point belongs to the candidate nearest it within
    :func:`core.tasks.emboli.truth.decision_reach_mm`, a later one winning (the rule of
    the Emboli workspace and of :func:`core.tasks.emboli.truth.candidate_truth`).
    """
    name = _canonical(task_name)
    study = project.study(study_id)
    cands = project.candidates(study_id, generator=_generator(name))
    by_id = {int(c.id): c for c in cands}
    decisions: dict[int, tuple[int, str]] = {}
    if name == "polyps":
        from core.tasks.polyps.truth import decision_for, study_truth

        truth = study_truth(project, study_id)
        for c in cands:
            d = decision_for(truth.get(int(c.frame)) if c.frame is not None else None,
                             c.center, c.extent)
            if d is not None:
                decisions[int(c.id)] = d
    else:
        from core.tasks.emboli.truth import decision_points, decisions_by_candidate

        points = decision_points(project, study_id)
        if points and cands:
            centres = np.array([c.center for c in cands], float).reshape(-1, 3)
            got = decisions_by_candidate(points, centres, _emboli_spacing(study))
            decisions = {int(cands[k].id): d for k, d in got.items()}
    return StudyCandidates(name, study, by_id, decisions)


def answered_items(project, task_name: str, study_ids) -> set[tuple[int, int]]:
    """(study, item) of the items the expert answered: labelled frames (frame tasks),
    decided candidates (candidate tasks); empty for other kinds (pixels)."""
    kind = item_kind(task_name)
    ids = set(study_ids)
    if kind == "frame":
        return {(lb.study_id, lb.frame) for lb in project.labels() if lb.study_id in ids}
    if kind == "candidate":
        out = set()
        for sid in ids:
            out |= {(sid, cid) for cid in study_candidates(project, task_name, sid).decisions}
        return out
    return set()


def candidate_text(task_name: str, cand, cid: int) -> str:
    """"frame 12, candidate 345" (polyps), "candidate 345 at plane 40" (emboli; planes
    counted from 1, as the workspace's list); "candidate 345 (gone)" when the generator
    ran again since."""
    if cand is None:
        return f"candidate {cid} (gone: the generator ran again)"
    if _canonical(task_name) == "emboli":
        return f"candidate {cid} at plane {float(cand.center[0]) + 1:.0f}"
    return f"frame {cand.frame}, candidate {cid}"


def item_text(kind: str, item: int, *, task_name: str = "", cands: StudyCandidates | None
              = None) -> str:
    """An item for a list: "frame 17", "frame 12, candidate 345", "pixel 9012"."""
    if kind == "candidate":
        return candidate_text(task_name, None if cands is None else cands.by_id.get(int(item)),
                              int(item))
    return f"{kind} {int(item)}"


def store_candidate_decision(project, task_name: str, study_id: int, cid: int, value: str,
                             *, history=None) -> str:
    """Store the expert's decision ``value`` (the task's accept or reject value) on
    candidate ``cid``, as the task's workspace does on A / R: a ``point`` annotation at
    the candidate's centre (emboli: ``Point(row, col)`` on its plane rounded), or the
    change of the decision it already has.

    ``history`` (a :class:`core.store.history.AnnotationHistory`, the workspace's)
    makes it one undo step there; without it the project is written directly.

    Returns ``"added"``, ``"changed"`` or ``"unchanged"``.

    Raises
    ------
    ValueError
        ``value`` is not a decision of the task, the candidate is gone, or (emboli) its
        centre lies too far between two planes for a decision to reach it.
    """
    from core.store.geometry import Point

    accept, reject = decision_values(task_name)
    if value not in (accept, reject):
        raise ValueError(f"a decision is {accept!r} or {reject!r}, got {value!r}")
    sc = study_candidates(project, task_name, study_id)
    c = sc.by_id.get(int(cid))
    if c is None:
        raise ValueError(f"candidate {cid} of {sc.study.name} is gone (the generator ran "
                         "again): score the study again")
    dec = sc.decisions.get(int(cid))
    if dec is not None:
        if dec[1] == value:
            return "unchanged"
        if history is not None:
            history.update(dec[0], value=value)
        else:
            project.update_annotation(dec[0], value=value)
        return "changed"
    if sc.task == "emboli":
        from core.tasks.emboli.truth import decision_place

        try:
            frame, y, x = decision_place(c.center, _emboli_spacing(sc.study))
        except ValueError as exc:
            raise ValueError(f"candidate {cid}: {exc}") from None
        geometry = Point(y, x)
    else:
        frame = int(c.frame)
        geometry = Point(*(float(v) for v in c.center))
    if history is not None:
        history.add(study_id, "point", geometry, frame=frame, value=value)
    else:
        project.add_annotation(study_id, "point", geometry, frame=frame, value=value)
    return "added"
