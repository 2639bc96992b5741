"""Evaluation results read back from stored JSON, and the figure inputs made uniform.

A run's ``metrics["test"]`` holds its task's result as JSON (:meth:`to_dict`): a
:class:`~core.stats.roc.RocResult` (frame quality), a :class:`~core.stats.froc.FrocResult`
(polyps, emboli) or a :class:`~core.tasks.cimt.results.CimtResult` (CIMT). The figure
functions accept either the objects or those dicts, one of them or a mapping
``{label: result}`` (one curve, box or bar group per label).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from core.stats.froc import FrocResult
from core.stats.roc import RocResult

#: Kinds of task result, as :func:`result_kind` names them.
RESULT_KINDS = ("roc", "froc", "cimt")
#: What FROC false positives are counted per, by task (FrocResult only says "image").
FP_UNITS = {"polyps": "frame", "emboli": "volume"}


def _cimt_class():
    # the CIMT task is optional in the sense that it lands on its own; import on use
    from core.tasks.cimt.results import CimtResult

    return CimtResult


def result_kind(result: Any) -> str | None:
    """``"roc"``, ``"froc"``, ``"cimt"`` or None for a result object or its JSON dict."""
    if isinstance(result, RocResult):
        return "roc"
    if isinstance(result, FrocResult):
        return "froc"
    if isinstance(result, Mapping):
        if result.get("kind") == "cimt":
            return "cimt"
        if "cpm" in result and "points" in result:
            return "froc"
        if "auc" in result and "fpr" in result:
            return "roc"
        return None
    if type(result).__name__ == "CimtResult":
        return "cimt"
    return None


def as_result(result: Any) -> Any:
    """The result object for ``result`` (an object is returned as is, a dict rebuilt).

    Raises
    ------
    ValueError
        Not a ROC, FROC or CIMT result.
    """
    kind = result_kind(result)
    if kind is None:
        raise ValueError(f"not a ROC, FROC or CIMT result: {type(result).__name__}")
    if not isinstance(result, Mapping):
        return result
    if kind == "roc":
        return RocResult.from_dict(dict(result))
    if kind == "froc":
        return FrocResult.from_dict(dict(result))
    return _cimt_class().from_dict(dict(result))


def labelled(data: Any, default: str = "") -> dict[str, Any]:
    """``{label: item}`` from a mapping of labels, a list of (label, item) pairs, or one
    item (labelled ``default``)."""
    if isinstance(data, Mapping) and not _is_single(data):
        return {str(k): v for k, v in data.items()}
    if isinstance(data, (list, tuple)) and data and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in data):
        return {k: v for k, v in data}
    return {default: data}


def _is_single(d: Mapping) -> bool:
    """A mapping that is itself one item (a result's or a budget's dict), not labels."""
    return result_kind(d) is not None or "n" in d and "perf" in d


def headline(result: Any) -> tuple[str, float, tuple[float, float]]:
    """(metric name, value, 95 % CI) of a result: AUC, CPM or mean LI+MA distance."""
    r = as_result(result)
    kind = result_kind(r)
    if kind == "roc":
        return "AUC", float(r.auc), (float(r.auc_ci[0]), float(r.auc_ci[1]))
    if kind == "froc":
        return "CPM", float(r.cpm), (float(r.cpm_ci[0]), float(r.cpm_ci[1]))
    d = [x for i in ("LI", "MA") for x in r.distances(i)]
    mean = sum(d) / len(d) if d else math.nan
    return f"mean distance ({r.unit})", mean, (math.nan, math.nan)


def fmt(v: Any, digits: int = 3) -> str:
    """A number for a table: fixed digits, an en dash for missing or non-finite."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–" if v is None else str(v)
    return f"{f:.{digits}f}" if math.isfinite(f) else "–"


def fmt_ci(ci: Any, digits: int = 3) -> str:
    if ci is None:
        return "–"
    lo, hi = ci
    if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in (lo, hi)):
        return "–"
    return f"{lo:.{digits}f}–{hi:.{digits}f}"
