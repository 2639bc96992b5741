"""The non-contrast flag: a contrast-filled blood pool in the mediastinum, or none."""

from __future__ import annotations

import numpy as np
import pytest

from core.io.dicom_contrast import contrast_check

SPACING = (2.5, 2.0, 2.0)


def chest(blood_hu: float, *, n: int = 40, rows: int = 128, cols: int = 128,
          calcifications: bool = True) -> np.ndarray:
    """An axial chest (rows anterior -> posterior): body, two lungs, a central blood pool
    (heart and pulmonary trunk, radius 18 mm), a bright spine at the back, a sternum at
    the front, and scattered small calcifications in the mediastinum."""
    rng = np.random.default_rng(0)
    z, r, c = np.mgrid[0:n, 0:rows, 0:cols].astype(np.float32)
    z, r, c = z * SPACING[0], r * SPACING[1], c * SPACING[2]
    cy, cx = rows * SPACING[1] / 2, cols * SPACING[2] / 2
    vol = np.full((n, rows, cols), -1000.0, np.float32)
    body = ((r - cy) / 100) ** 2 + ((c - cx) / 120) ** 2 < 1
    vol[body] = 40.0
    for side in (-1, 1):
        lung = ((r - cy) / 70) ** 2 + ((c - cx - side * 62) / 45) ** 2 < 1
        vol[lung] = -850.0
    pool = ((r - cy + 20) ** 2 + (c - cx) ** 2 < 18 ** 2) & (np.abs(z - 50) < 40)
    vol[pool] = blood_hu
    spine = (r - cy - 75) ** 2 + (c - cx) ** 2 < 16 ** 2
    vol[spine] = 230.0
    vol[(r - cy - 75) ** 2 + (c - cx) ** 2 < 6 ** 2] = 650.0
    sternum = (np.abs(r - cy + 94) < 5) & (np.abs(c - cx) < 15)
    vol[sternum] = 400.0
    if calcifications:
        for _ in range(12):
            k, y, x = rng.integers(5, n - 5), rng.integers(50, 70), rng.integers(50, 78)
            vol[k, y:y + 2, x:x + 2] = 600.0
    return vol + rng.normal(0, 10, vol.shape).astype(np.float32)


def test_enhanced_and_unenhanced_chests():
    yes = contrast_check(chest(350.0), SPACING)
    assert yes.enhanced is True and yes.blood_ml > 20 and 300 < yes.blood_hu < 400
    no = contrast_check(chest(45.0), SPACING)
    assert no.enhanced is False and no.blood_ml < 2.0 and "NOT contrast" in no.reason
    assert no.p995_hu < yes.p995_hu


def test_rows_running_posterior_to_anterior():
    flipped = (1, 0, 0, 0, -1, 0)  # row index grows toward the patient's front
    assert contrast_check(chest(350.0)[:, ::-1], SPACING, orientation=flipped).enhanced
    assert contrast_check(chest(45.0)[:, ::-1], SPACING, orientation=flipped).enhanced is False


def test_not_judged_cases():
    thin = contrast_check(chest(350.0)[:4], SPACING)
    assert thin.enhanced is None and "spans" in thin.reason
    empty = contrast_check(np.full((20, 64, 64), -1000.0, np.float32), SPACING)
    assert empty.enhanced is None and "no body" in empty.reason
    sagittal = contrast_check(chest(350.0), SPACING, orientation=(0, 1, 0, 0, 0, -1))
    assert sagittal.enhanced is None
    with pytest.raises(ValueError):
        contrast_check(np.zeros((4, 4)), SPACING)


def test_synthetic_ctpa_is_enhanced_and_its_unenhanced_copy_is_flagged():
    ctpa = pytest.importorskip("core.synth.ctpa")
    vol = ctpa.render_ctpa((48, 96, 96), (2.5, 1.5, 1.5), seed=1, n_emboli=2)
    assert contrast_check(vol.hu, vol.spacing_mm).enhanced is True
    plain = vol.hu.copy()
    front = plain[:, : int(0.62 * plain.shape[1])]  # everything but the spine
    front[(front > 100) & (front < 460)] = 45.0
    assert contrast_check(plain, vol.spacing_mm).enhanced is False


def test_reader_flags_an_unenhanced_series_when_asked(tmp_path):
    from test_dicom_cases import write_series

    from core.events import Notice, drain
    from core.io.dicom import DicomSeriesReader

    write_series(tmp_path / "plain", chest(45.0), z=[2.5 * k for k in range(40)],
                 pixel_spacing=SPACING[1:], description="plain")
    write_series(tmp_path / "ctpa", chest(350.0), z=[2.5 * k for k in range(40)],
                 pixel_spacing=SPACING[1:], description="ctpa")
    events: list = []
    infos = drain(DicomSeriesReader(check_contrast=True).scan(tmp_path), events.append)
    by = {i.meta["description"]: i.meta for i in infos}
    assert by["plain"]["contrast"]["enhanced"] is False
    assert by["ctpa"]["contrast"]["enhanced"] is True
    assert by["ctpa"]["hu_range"][1] > 300 and by["plain"]["hu_range"][0] < -900
    notes = [e.message for e in events if isinstance(e, Notice)]
    assert sum("without contrast" in m for m in notes) == 1
    assert next(m for m in notes if "without contrast" in m).count("plain") == 1
    plain = drain(DicomSeriesReader().scan(tmp_path / "plain"))[0]  # headers only
    assert plain.meta["hu_range"] is None and "contrast" not in plain.meta
