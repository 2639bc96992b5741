"""Is this CT contrast-enhanced? A documented heuristic for flagging non-contrast CTPA.

A CT pulmonary angiogram is acquired while an iodine bolus fills the pulmonary arteries:
their blood measures about 250-500 HU, and a scan with less than about 200-250 HU in the
pulmonary trunk is considered non-diagnostic (e.g. Wittram, AJR 2007, "How I do it: CT
pulmonary angiography"). Without contrast, blood measures 30-60 HU and no filling defect
can be seen. So, without segmenting the arteries:

1. The body is the voxels above :data:`BODY_HU` (-400 HU); its extent in the axial plane
   (2nd to 98th percentile of its row and column indices, along the patient's anterior-
   posterior and right-left axes, found from the orientation) defines a central
   "mediastinal" box: :data:`AP_RANGE` of the anterior-posterior extent from the front
   and :data:`LR_RANGE` of the left-right one. It holds the heart, the pulmonary trunk
   and the aorta and leaves out the sternum (front), the spine (back) and the ribs.
2. Voxels in the box within :data:`BLOOD_HU` (150-700 HU: enhanced blood, above clot and
   soft tissue, below cortical bone) are grouped into 6-connected regions, on a grid
   subsampled to about 1.5 mm.
3. The scan is enhanced when the largest region holds at least :data:`MIN_BLOOD_ML`
   (2 mL: a pulmonary trunk of 25 mm diameter holds about 5 mL per centimetre, while
   calcifications, the usual bright voxels of an unenhanced mediastinum, are scattered
   and smaller).

Volumes spanning less than :data:`MIN_SPAN_MM` (20 mm) along the planes are not judged
(too thin to hold 2 mL of a vessel). The 99.5th percentile of soft-tissue voxels (>= -100 HU) in the box is reported too: below
about 150 HU it confirms the absence of a bolus. Oral contrast in the bowel, a box
holding no mediastinum (an abdominal scan) or heavy mediastinal calcification can fool
the heuristic: it flags, it does not decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["AP_RANGE", "BLOOD_HU", "BODY_HU", "LR_RANGE", "MIN_BLOOD_ML", "MIN_SPAN_MM",
           "ContrastCheck", "contrast_check"]

BODY_HU = -400.0
BLOOD_HU = (150.0, 700.0)
MIN_BLOOD_ML = 2.0
AP_RANGE = (0.15, 0.55)
LR_RANGE = (0.25, 0.75)
MIN_SPAN_MM = 20.0
_GRID_MM = 1.5


@dataclass(frozen=True)
class ContrastCheck:
    """The verdict of :func:`contrast_check`.

    Attributes
    ----------
    enhanced : bool or None
        True: a contrast-filled blood pool was found; False: none (flag the series as
        non-contrast); None: not judged (``reason`` says why).
    blood_ml : float
        Volume of the largest connected region in the blood range inside the box, mL.
    blood_hu : float or None
        Its median HU.
    p995_hu : float or None
        99.5th percentile HU of soft tissue (>= -100 HU) inside the box.
    reason : str
        One sentence for people.
    """

    enhanced: bool | None
    blood_ml: float
    blood_hu: float | None
    p995_hu: float | None
    reason: str


def contrast_check(hu: np.ndarray, spacing_mm: Sequence[float], *,
                   orientation: Sequence[float] = (1, 0, 0, 0, 1, 0),
                   blood_hu: tuple[float, float] = BLOOD_HU,
                   min_blood_ml: float = MIN_BLOOD_ML) -> ContrastCheck:
    """Judge whether a CT volume shows a contrast bolus (see the module's heuristic).

    Parameters
    ----------
    hu : (planes, rows, cols) array
        The volume in Hounsfield units.
    spacing_mm : (dz, dy, dx)
        Voxel spacing in mm.
    orientation : 6 floats
        ImageOrientationPatient; default axial, rows running anterior to posterior.
    blood_hu : (low, high)
        HU range of contrast-enhanced blood.
    min_blood_ml : float
        Smallest connected blood region, in mL, that counts as a bolus.

    Returns
    -------
    ContrastCheck
    """
    vol = np.asarray(hu)
    if vol.ndim != 3:
        raise ValueError(f"hu must be (planes, rows, cols), got shape {vol.shape}")
    dz, dy, dx = (float(v) for v in spacing_mm)
    o = np.asarray(orientation, dtype=np.float64)
    row_dir, col_dir = o[:3], o[3:]
    if abs(float(np.cross(row_dir, col_dir)[2])) < 0.8:
        return ContrastCheck(None, 0.0, None, None, "not judged: the series is not axial")
    if vol.shape[0] * dz < MIN_SPAN_MM:
        return ContrastCheck(None, 0.0, None, None, f"not judged: the volume spans "
                             f"{vol.shape[0] * dz:.0f} mm, under {MIN_SPAN_MM:g} mm")
    step = [max(1, round(_GRID_MM / s)) for s in (dz, dy, dx)]
    sub = vol[::step[0], ::step[1], ::step[2]]
    voxel_ml = float(np.prod([s * k for s, k in zip((dz, dy, dx), step)])) / 1000.0
    body = sub > BODY_HU
    if body.sum() * voxel_ml < 50.0:  # less than 50 mL of body: nothing to judge
        return ContrastCheck(None, 0.0, None, None, "not judged: no body found in the volume")
    _, rr, cc = np.nonzero(body)
    # Which image axis runs anterior -> posterior (LPS +y) and which right -> left (+x)
    ap_axis = 1 if abs(col_dir[1]) >= abs(row_dir[1]) else 2
    ap_sign = (col_dir if ap_axis == 1 else row_dir)[1]
    lr_axis = 3 - ap_axis
    bounds = {}
    for axis, coords, (f0, f1), flip in ((ap_axis, rr if ap_axis == 1 else cc, AP_RANGE,
                                          ap_sign < 0),
                                         (lr_axis, rr if lr_axis == 1 else cc, LR_RANGE, False)):
        lo, hi = np.percentile(coords, [2, 98])
        a, b = (1 - f1, 1 - f0) if flip else (f0, f1)
        bounds[axis] = (int(lo + a * (hi - lo)), int(np.ceil(lo + b * (hi - lo))) + 1)
    box = sub[:, slice(*bounds[1]), slice(*bounds[2])]
    soft = box[box >= -100.0]
    p995 = float(np.percentile(soft, 99.5)) if soft.size else None
    bright = (box >= blood_hu[0]) & (box <= blood_hu[1])
    labels, n = ndimage.label(bright)
    if n == 0:
        ml, med = 0.0, None
    else:
        sizes = np.bincount(labels.ravel())[1:]
        big = int(np.argmax(sizes)) + 1
        ml = float(sizes[big - 1]) * voxel_ml
        med = float(np.median(box[labels == big]))
    enhanced = ml >= min_blood_ml
    if enhanced:
        reason = (f"contrast-enhanced: a connected blood pool of {ml:.1f} mL at median "
                  f"{med:.0f} HU in the mediastinum")
    else:
        top = "no soft tissue" if p995 is None else f"99.5th percentile {p995:.0f} HU"
        reason = (f"probably NOT contrast-enhanced: no connected region of {blood_hu[0]:g}-"
                  f"{blood_hu[1]:g} HU of at least {min_blood_ml:g} mL in the mediastinum "
                  f"(largest {ml:.1f} mL; {top}); pulmonary arteries cannot be assessed")
    return ContrastCheck(bool(enhanced), ml, med, p995, reason)
