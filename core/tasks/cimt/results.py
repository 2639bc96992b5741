"""The CIMT task's evaluation result: per-ROI boundary errors, box plots, IMT agreement.

SPEC §1.7: per interface (LI, MA), the mean absolute vertical distance between the
expert's and the system's boundary of every test ROI, summarised as a Tukey box plot
with mean ± sd; the IMT of every ROI by the system against the expert's, summarised by
Bland-Altman (bias, 95 % limits of agreement, their CIs). SPEC §1.3: the pixel AUC with
both interfaces merged into one positive class (LI + MA against background).

Units: distances and IMT are in mm when every ROI's study has a pixel spacing (DICOM
ultrasound region or calibration), else in pixels for all of them (mm and pixels cannot
be pooled); each ROI keeps both where it can.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from core.stats.agreement import BlandAltman
from core.stats.boxplot import BoxStats
from core.stats.roc import RocResult

FEW_ROIS = 10  # below this many ROIs a box plot / Bland-Altman describes little


def _num(v) -> float | None:
    return None if v is None or not math.isfinite(float(v)) else float(v)


def _unnum(v) -> float:
    return math.nan if v is None else float(v)


@dataclass(frozen=True)
class RoiResult:
    """One test ROI: expert vs system.

    ``li_px`` / ``ma_px``: mean absolute vertical distance between the expert's and the
    system's boundary over the ROI's traced columns (pixels); ``li_mm`` / ``ma_mm`` the
    same in mm (None without a spacing). ``imt_system`` / ``imt_expert`` in ``imt_unit``.
    """

    study_id: int
    study: str
    frame: int
    roi_id: int
    box: tuple[int, int, int, int]
    n_cols: int
    li_px: float
    ma_px: float
    li_mm: float | None
    ma_mm: float | None
    imt_system: float
    imt_expert: float
    imt_unit: str
    group: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["box"] = list(self.box)
        for k in ("li_px", "ma_px", "li_mm", "ma_mm", "imt_system", "imt_expert"):
            d[k] = _num(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RoiResult:
        d = dict(d)
        d["box"] = tuple(int(v) for v in d["box"])
        for k in ("li_px", "ma_px", "imt_system", "imt_expert"):
            d[k] = _unnum(d[k])
        return cls(**d)


def _box_dict(b: BoxStats | None) -> dict | None:
    if b is None:
        return None
    d = asdict(b)
    d["outliers"] = [float(v) for v in b.outliers]
    return {k: (_num(v) if isinstance(v, float) else v) for k, v in d.items()}


def _box_from(d: dict | None) -> BoxStats | None:
    if d is None:
        return None
    d = dict(d)
    d["outliers"] = tuple(float(v) for v in d["outliers"])
    return BoxStats(**{k: (_unnum(v) if k not in ("n", "outliers") else v)
                       for k, v in d.items()})


def _ba_dict(b: BlandAltman | None) -> dict | None:
    if b is None:
        return None
    d = asdict(b)
    return {k: ([_num(x) for x in v] if isinstance(v, (tuple, list)) else
                (_num(v) if isinstance(v, float) else v)) for k, v in d.items()}


def _ba_from(d: dict | None) -> BlandAltman | None:
    if d is None:
        return None
    return BlandAltman(**{k: (tuple(_unnum(x) for x in v) if isinstance(v, list) else
                              (v if k == "n" else _unnum(v))) for k, v in d.items()})


@dataclass(frozen=True)
class CimtResult:
    """The evaluation of a CIMT run on its test ROIs.

    Attributes
    ----------
    unit : "mm" | "px"
        Unit of ``li``, ``ma`` and ``imt`` (mm when every ROI has a spacing).
    rois : tuple of RoiResult
    li, ma : BoxStats or None
        Tukey box-plot statistics (with mean and sd) of the per-ROI distances.
    imt : BlandAltman or None
        System IMT minus expert IMT over the ROIs (None with fewer than 2 ROIs).
    roc : RocResult or None
        Pixel AUC, LI and MA merged as the positive class (SPEC §1.3).
    verdict : tuple of str
    """

    unit: str
    rois: tuple[RoiResult, ...]
    li: BoxStats | None
    ma: BoxStats | None
    imt: BlandAltman | None
    roc: RocResult | None
    verdict: tuple[str, ...] = field(default_factory=tuple)

    # ------------------------------------------------------------------ views
    @property
    def auc(self) -> float:
        """The merged-class pixel AUC (NaN without one)."""
        return math.nan if self.roc is None else float(self.roc.auc)

    @property
    def auc_ci(self) -> tuple[float, float]:
        """The 95 % CI of :attr:`auc` (NaNs without one)."""
        return (math.nan, math.nan) if self.roc is None else tuple(self.roc.auc_ci)

    @property
    def n_rois(self) -> int:
        return len(self.rois)

    def distances(self, interface: str) -> list[float]:
        """Per-ROI distances of ``"LI"`` or ``"MA"`` in :attr:`unit`."""
        key = f"{interface.lower()}_{self.unit}"
        return [float(getattr(r, key)) for r in self.rois]

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        return {"kind": "cimt", "unit": self.unit, "n_rois": self.n_rois,
                "rois": [r.to_dict() for r in self.rois],
                "li": _box_dict(self.li), "ma": _box_dict(self.ma),
                "imt": _ba_dict(self.imt),
                "roc": None if self.roc is None else self.roc.to_dict(),
                "auc": _num(self.auc), "verdict": list(self.verdict)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CimtResult:
        return cls(d["unit"], tuple(RoiResult.from_dict(r) for r in d["rois"]),
                   _box_from(d.get("li")), _box_from(d.get("ma")), _ba_from(d.get("imt")),
                   None if d.get("roc") is None else RocResult.from_dict(d["roc"]),
                   tuple(d.get("verdict", ())))

    # ------------------------------------------------------------------ text
    def text(self) -> str:
        """Lines for the command line: per-interface errors, IMT agreement, AUC, verdict."""
        u = self.unit
        lines = [f"{self.n_rois} test ROIs; distances expert vs system per ROI ({u}):"]
        for name, box in (("LI", self.li), ("MA", self.ma)):
            lines.append(f"  {name}: " + ("no ROI" if box is None else box.text(u)))
        if self.imt is not None:
            b = self.imt
            lines.append(f"IMT system - expert ({u}): bias {b.bias:+.3f} (95% CI "
                         f"{b.bias_ci[0]:+.3f} to {b.bias_ci[1]:+.3f}), limits of agreement "
                         f"{b.loa_low:+.3f} to {b.loa_high:+.3f}, n = {b.n}")
        if self.roc is not None:
            r = self.roc
            lines.append(f"pixel AUC (LI + MA vs background) {r.auc:.4f} (95% CI "
                         f"{r.auc_ci[0]:.4f}-{r.auc_ci[1]:.4f}, DeLong); {r.n_pos} interface, "
                         f"{r.n_neg} background pixels")
        lines += [f"verdict: {s}" for s in self.verdict]
        return "\n".join(lines)


def cimt_verdict(rois, unit: str, li: BoxStats | None, ma: BoxStats | None,
                 imt: BlandAltman | None) -> tuple[str, ...]:
    """Plain sentences on what the result shows and does not."""
    out = []
    if not rois:
        return ("No traced test ROI was evaluated: draw ROIs and trace LI and MA on the "
                "test studies.",)
    if li is not None and ma is not None:
        worse = "LI" if li.median > ma.median else "MA"
        out.append(f"Median boundary error {li.median:.3f} {unit} (LI) and {ma.median:.3f} "
                   f"{unit} (MA); {worse} is the harder interface here.")
    if imt is not None and math.isfinite(imt.bias_ci[0]):
        lo, hi = imt.bias_ci
        if lo <= 0.0 <= hi:
            out.append("No systematic IMT bias shown: the bias's 95% CI includes 0.")
        else:
            out.append(f"The system {'over' if imt.bias > 0 else 'under'}estimates IMT by "
                       f"{abs(imt.bias):.3f} {unit} on average (the bias's 95% CI excludes 0).")
    if unit == "px":
        out.append("Errors are in pixels: a test study has no pixel spacing (calibrate it, "
                   "or import DICOM with ultrasound regions, for millimetres).")
    if len(rois) < FEW_ROIS:
        out.append(f"Only {len(rois)} test ROIs: the box plots and limits of agreement are "
                   "rough.")
    if len({r.group for r in rois}) == 1:
        out.append("All test ROIs come from one subject: they say little about new subjects.")
    return tuple(out)


def compare_runs(a: CimtResult, b: CimtResult) -> dict[str, dict[str, float]]:
    """Paired comparison of two runs' per-ROI errors on the same test ROIs.

    ROIs are matched by (study, frame, ROI annotation); per interface (``"LI"``,
    ``"MA"``) and for the absolute IMT error (``"IMT"``), the Wilcoxon signed-rank test
    of run ``a``'s errors against run ``b``'s (:func:`core.stats.agreement.paired_wilcoxon`).

    Returns
    -------
    dict
        ``{"LI": {"n", "median_a", "median_b", "statistic", "p"}, "MA": ..., "IMT": ...}``
        in the runs' common unit.

    Raises
    ------
    ValueError
        The runs share no ROI, or give their errors in different units.
    """
    from core.stats.agreement import paired_wilcoxon

    if a.unit != b.unit:
        raise ValueError(f"the runs give errors in different units ({a.unit}, {b.unit})")
    key = {(r.study_id, r.frame, r.roi_id): r for r in b.rois}
    pairs = [(r, key[(r.study_id, r.frame, r.roi_id)]) for r in a.rois
             if (r.study_id, r.frame, r.roi_id) in key]
    if not pairs:
        raise ValueError("the two runs were evaluated on no common test ROI")
    u = a.unit
    out = {}
    for name, get in (("LI", lambda r: getattr(r, f"li_{u}")),
                      ("MA", lambda r: getattr(r, f"ma_{u}")),
                      ("IMT", lambda r: abs(r.imt_system - r.imt_expert))):
        x = np.array([get(p) for p, _ in pairs], float)
        y = np.array([get(q) for _, q in pairs], float)
        stat, p = paired_wilcoxon(x, y) if np.any(x != y) else (math.nan, 1.0)
        out[name] = {"n": len(pairs), "median_a": float(np.median(x)),
                     "median_b": float(np.median(y)), "statistic": float(stat), "p": float(p)}
    return out
