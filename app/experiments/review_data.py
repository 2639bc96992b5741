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
    """Items scored by at least two of the runs, most disagreed-on first."""
    runs = [project.run(r) for r in run_ids]
    scores = [positive_scores(project, r) for r in runs]
    thresholds = [threshold_of(r) for r in runs]
    keys: dict[tuple[int, int], list[tuple[float, bool]]] = {}
    for s, t in zip(scores, thresholds):
        for k, v in s.items():
            keys.setdefault(k, []).append((v, v >= t))
    labelled = set()
    if unlabelled_only:
        labelled = {(lb.study_id, lb.frame) for lb in project.labels()}
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
