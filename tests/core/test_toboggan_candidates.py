"""Embolus candidates (core.tasks.emboli.candidates) on small synthetic tubes and, when
core.synth.ctpa is present, on synthetic CTPA volumes (recall reported)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from core.events import Progress, drain
from core.tasks.emboli.candidates import (
    GENERATOR,
    VERSION,
    EmboliCandidateParams,
    EmbolusCandidate,
    generate_candidates,
)

SP = (1.0, 0.8, 0.8)  # (dz, dy, dx) mm
SHAPE = (40, 48, 64)
AXIS = (20.0, 19.2)  # (z, y) mm of the tube's axis, which runs along x
RADIUS = 3.0
CONTRAST, CLOT = 350.0, 40.0


def _mm_grid():
    zz, yy, xx = np.mgrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]].astype(np.float64)
    return zz * SP[0], yy * SP[1], xx * SP[2]


def _cover(signed_mm: np.ndarray) -> np.ndarray:
    """Partial-volume coverage from a signed distance (mm, positive inside)."""
    return np.clip(0.5 + signed_mm / SP[1], 0, 1)


def tube(defect=None, background=-850.0, blob=None, seed=0) -> np.ndarray:
    """int16 HU: a contrast-filled tube (350 HU) along x in ``background`` (lung or fat).

    ``defect`` = (centre x mm, half-length mm, half-width mm, offset in y mm): an
    ellipsoidal clot (40 HU) replacing the contrast inside the lumen. ``blob`` = (centre
    (z, y, x) mm, radius mm, HU): a solid sphere painted over everything. Blurred like a
    scanner (0.6 mm) with 10 HU of noise.
    """
    z, y, x = _mm_grid()
    lumen = _cover(RADIUS - np.hypot(z - AXIS[0], y - AXIS[1]))
    vol = background + (CONTRAST - background) * lumen
    if defect is not None:
        e = _ellipsoid(defect, z, y, x)
        vol += _cover((1 - e) * min(defect[1], defect[2])) * lumen * (CLOT - CONTRAST)
    if blob is not None:
        (bz, by, bx), r, hu = blob
        cov = _cover(r - np.sqrt((z - bz) ** 2 + (y - by) ** 2 + (x - bx) ** 2))
        vol = vol * (1 - cov) + hu * cov
    vol = ndimage.gaussian_filter(vol, [0.6 / s for s in SP])
    vol += np.random.default_rng(seed).normal(0, 10, vol.shape)
    return np.rint(vol).astype(np.int16)


def _ellipsoid(defect, z, y, x):
    cx, half, width, off = defect
    return np.sqrt(((x - cx) / half) ** 2 + ((z - AXIS[0]) / width) ** 2
                   + ((y - AXIS[1] - off) / width) ** 2)


def inside_clot(c: EmbolusCandidate, defect) -> bool:
    z, y, x = (v * s for v, s in zip(c.center_vox, SP))
    return bool(_ellipsoid(defect, z, y, x) <= 1.0)


def run(vol, params=None) -> list[EmbolusCandidate]:
    return drain(generate_candidates(vol, SP, params))


def test_clean_tube_gives_no_candidates():
    # the partial-volume shell between contrast and lung passes through the clot range
    for seed in range(2):
        assert run(tube(seed=seed)) == []
    # ... and gives candidates when edges are kept and nothing else filters
    loose = EmboliCandidateParams(drop_edges=False, min_enclosure=0.0, min_volume_mm3=0.0)
    assert len(run(tube(), loose)) > 0


@pytest.mark.parametrize("defect", [
    (25.6, 4.0, 2.0, 0.0),  # central ("polo mint")
    (25.6, 4.0, 1.6, 1.6),  # eccentric, against the wall
    (25.6, 4.0, 4.0, 0.0),  # wider than the lumen: occluding
], ids=["central", "eccentric", "occluding"])
def test_filling_defect_is_hit(defect):
    cands = run(tube(defect))
    hits = [c for c in cands if inside_clot(c, defect)]
    assert hits, cands
    assert all(inside_clot(c, defect) for c in cands)  # nothing else in this volume
    for c in hits:
        assert -50 <= c.mean_hu <= 150 and c.n_voxels >= 3
        assert c.volume_mm3 == pytest.approx(c.n_voxels * SP[0] * SP[1] * SP[2])
        z0, y0, x0, z1, y1, x1 = c.extent
        assert z0 <= c.center_vox[0] < z1 and y0 <= c.center_vox[1] < y1
        assert x0 <= c.center_vox[2] < x1
        assert c.contrast_fraction > 0 and c.enclosure >= 0.7


def test_dark_blob_outside_vessels_is_not_a_candidate():
    # a soft-tissue blob in the lung 11 mm from the tube
    blob = ((20.0, 8.0, 25.6), 2.5, CLOT)
    assert run(tube(blob=blob)) == []
    # a lymph-node-like blob in fat, touching a contrast-filled vessel
    node = ((20.0, AXIS[1] - RADIUS - 2.0, 25.6), 2.5, CLOT)
    assert run(tube(background=-100.0, blob=node)) == []


def test_progress_and_early_close():
    gen = generate_candidates(tube((25.6, 4.0, 2.0, 0.0)), SP)
    events = []
    out = drain(gen, events.append)
    stages = [e.stage for e in events]
    assert all(isinstance(e, Progress) for e in events)
    assert stages[0] == "smooth" and stages[-1] == "clusters"
    assert {"smooth", "vessels", "toboggan", "clusters"} == set(stages)
    assert GENERATOR in events[0].message and VERSION in events[0].message
    assert out
    gen = generate_candidates(tube(), SP)
    next(gen)
    next(gen)
    gen.close()  # a cancelled run stops cleanly


def test_input_validation():
    with pytest.raises(ValueError, match="Z, Y, X"):
        run(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="spacing_mm"):
        drain(generate_candidates(np.zeros((4, 4, 4)), (1.0, 0.0, 1.0)))
    with pytest.raises(ValueError, match="numeric"):
        run(np.zeros((4, 4, 4), dtype=object))
    assert run(np.full((6, 6, 6), -1000, np.int16)) == []  # nothing enhanced


@pytest.mark.parametrize("bad, match", [
    ({"smooth_sigma_mm": -1.0}, "smooth_sigma_mm"),
    ({"smooth_sigma_mm": float("nan")}, "smooth_sigma_mm"),
    ({"vessel_hu": (600.0, 300.0)}, "vessel_hu"),
    ({"clot_hu": (-50.0,)}, "clot_hu"),
    ({"clot_hu": (0.0, 300.0)}, "below vessel_hu"),
    ({"lung_hu": 0.0}, "lung_hu"),
    ({"min_volume_mm3": 10.0, "max_volume_mm3": 5.0}, "min_volume_mm3 < max_volume_mm3"),
    ({"min_enclosure": 1.5}, "min_enclosure"),
    ({"min_contrast_fraction": True}, "min_contrast_fraction"),
    ({"ray_length_mm": 0.0}, "ray_length_mm"),
    ({"connectivity": 8}, "connectivity"),
    ({"drop_edges": 1}, "drop_edges"),
])
def test_params_validation(bad, match):
    with pytest.raises(ValueError, match=match):
        EmboliCandidateParams(**bad)


def test_params_round_trip():
    p = EmboliCandidateParams(vessel_hu=(180.0, 700.0), min_enclosure=0.6)
    d = p.to_dict()
    assert d["vessel_hu"] == [180.0, 700.0]
    assert EmboliCandidateParams.from_dict(d) == p
    with pytest.raises(ValueError, match="unknown"):
        EmboliCandidateParams.from_dict({**d, "vesel_hu": [1, 2]})


def test_recall_on_synthetic_ctpa():
    ctpa = pytest.importorskip("core.synth.ctpa")
    found = total = n_cands = 0
    for seed in range(3):
        v = ctpa.render_ctpa(seed=seed, n_emboli=4)
        cands = drain(generate_candidates(v.hu, v.spacing_mm))
        centres = np.rint([c.center_vox for c in cands]).astype(int).reshape(-1, 3)
        centres = np.clip(centres, 0, np.asarray(v.hu.shape) - 1)
        hit = set(v.emboli_labels[tuple(centres.T)].tolist()) - {0}
        found += len(hit)
        total += len(v.emboli)
        n_cands += len(cands)
    recall, per_volume = found / total, n_cands / 3
    print(f"synthetic CTPA: recall {recall:.2f} ({found}/{total} emboli with a candidate "
          f"centre inside), {per_volume:.0f} candidates per volume")
    assert recall >= 0.8
    assert per_volume <= 400


def test_within_mm_matches_the_distance_transform():
    from core.tasks.emboli.candidates import within_mm

    rng = np.random.default_rng(7)
    for _ in range(12):
        shape = tuple(int(s) for s in rng.integers(3, 24, 3))
        spacing = tuple(float(s) for s in rng.uniform(0.5, 1.5, 3))
        radius = float(rng.uniform(0.0, 4.0))
        mask = rng.random(shape) < 0.03
        ours = drain(within_mm(mask, radius, spacing, slab_planes=int(rng.integers(1, 8))))
        ref = (ndimage.distance_transform_edt(~mask, sampling=spacing) <= radius
               if mask.any() else mask)
        assert np.array_equal(ours, ref), (shape, spacing, radius)
