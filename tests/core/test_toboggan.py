"""Tobogganing (core.tasks.emboli.toboggan): hand-made volumes with known minima, and the
per-voxel reference of benchmarks/bench_toboggan.py on random volumes."""

from __future__ import annotations

import numpy as np
import pytest

from core.events import Progress, drain
from core.tasks.emboli.toboggan import neighbour_offsets, toboggan, toboggan_steps


def line(values) -> np.ndarray:
    """A (1, 1, n) volume."""
    return np.asarray(values, np.float32)[None, None, :]


def test_two_basins_in_a_line():
    labels, minima = toboggan(line([5, 4, 3, 4, 5, 4, 2, 3, 6]))
    # x=4 (5) has two equally dark neighbours (4): the first in index order (x=3) wins
    assert labels.ravel().tolist() == [1, 1, 1, 1, 1, 2, 2, 2, 2]
    assert minima.tolist() == [[0, 0, 2], [0, 0, 6]]
    assert labels.dtype == np.int32 and minima.dtype == np.int64


def test_two_wells_in_3d():
    zz, yy, xx = np.mgrid[:12, :14, :16].astype(np.float64)
    a, b = np.array([3.0, 4.0, 4.0]), np.array([8.0, 9.0, 11.0])
    da = (zz - a[0]) ** 2 + (yy - a[1]) ** 2 + (xx - a[2]) ** 2
    db = (zz - b[0]) ** 2 + (yy - b[1]) ** 2 + (xx - b[2]) ** 2
    vol = -np.exp(-da / 20) - np.exp(-db / 20)
    labels, minima = toboggan(vol)
    assert minima.tolist() == [a.astype(int).tolist(), b.astype(int).tolist()]
    clearly_a = da < 0.5 * db
    clearly_b = db < 0.5 * da
    assert (labels[clearly_a] == 1).all() and (labels[clearly_b] == 2).all()


def test_flat_minimum_forms_one_cluster():
    zz, yy, xx = np.mgrid[:9, :9, :9]
    vol = ((zz - 4) ** 2 + (yy - 4) ** 2 + (xx - 4) ** 2).astype(np.int16)
    vol[3:6, 3:6, 3:6] = 0  # a flat 3x3x3 bottom
    labels, minima = toboggan(vol)
    assert (labels == 1).all()
    assert minima.tolist() == [[3, 3, 3]]  # the plateau's voxel with the lowest index


def test_flat_zone_with_an_exit_drains_through_it():
    # x=0,1 have no darker neighbour but are not a minimum: the flat zone leaves via x=2
    labels, minima = toboggan(line([2, 2, 2, 1, 3]))
    assert labels.ravel().tolist() == [1] * 5
    assert minima.tolist() == [[0, 0, 3]]
    # two flat minima of the same value, apart: two clusters
    labels, minima = toboggan(line([0, 0, 1, 0, 0]))
    assert labels.ravel().tolist() == [1, 1, 1, 2, 2]
    assert minima.tolist() == [[0, 0, 0], [0, 0, 3]]


def test_constant_volume_is_one_cluster():
    labels, minima = toboggan(np.full((4, 5, 6), 7, np.int16))
    assert (labels == 1).all() and minima.tolist() == [[0, 0, 0]]


def test_mask_excludes_voxels_and_their_pull():
    vol = line([3, 2, 1, 0, 1, 2, 3])
    mask = np.ones(vol.shape, bool)
    mask[0, 0, 3] = False  # the global minimum is out: each side ends at its own edge
    labels, minima = toboggan(vol, mask)
    assert labels.ravel().tolist() == [1, 1, 1, 0, 2, 2, 2]
    assert minima.tolist() == [[0, 0, 2], [0, 0, 4]]
    # NaN outside the mask is allowed, inside it is not
    vol2 = vol.copy()
    vol2[0, 0, 3] = np.nan
    assert np.array_equal(toboggan(vol2, mask)[0], labels)
    with pytest.raises(ValueError, match="non-finite"):
        toboggan(vol2)


def test_empty_mask():
    labels, minima = toboggan(np.zeros((3, 3, 3)), np.zeros((3, 3, 3), bool))
    assert not labels.any() and minima.shape == (0, 3)


def test_connectivity_decides_diagonal_neighbours():
    vol = np.full((1, 2, 2), 5.0)
    vol[0, 1, 1] = 0.0  # only diagonal to (0, 0, 0)
    vol[0, 0, 1] = vol[0, 1, 0] = 9.0
    assert len(toboggan(vol, connectivity=26)[1]) == 1
    labels, minima = toboggan(vol, connectivity=6)
    assert len(minima) == 2 and labels[0, 0, 0] != labels[0, 1, 1]
    assert len(neighbour_offsets(6)) == 6 and len(neighbour_offsets(18)) == 18


def test_every_cluster_descends_to_its_minimum():
    rng = np.random.default_rng(3)
    vol = rng.normal(size=(20, 24, 28)).astype(np.float32)
    mask = rng.random(vol.shape) < 0.8
    labels, minima = toboggan(vol, mask, chunk_voxels=1000)
    k = labels[mask]
    assert (labels[~mask] == 0).all() and k.min() == 1 and k.max() == len(minima)
    # the minimum of a cluster is its darkest voxel and belongs to it
    low = np.full(len(minima) + 1, np.inf)
    np.minimum.at(low, k, vol[mask])
    at_min = vol[tuple(minima.T)]
    assert np.array_equal(low[1:], at_min)
    assert np.array_equal(labels[tuple(minima.T)], np.arange(1, len(minima) + 1))


@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_identical_to_the_per_voxel_reference(connectivity):
    from benchmarks.bench_toboggan import toboggan_reference

    rng = np.random.default_rng(connectivity)
    for trial in range(40):
        shape = tuple(int(s) for s in rng.integers(1, 9, 3))
        if trial % 2:  # few grey levels: plateaus with and without exits everywhere
            vol = rng.integers(0, 4, shape).astype(np.int16)
        else:
            vol = rng.random(shape).astype(np.float32)
        mask = rng.random(shape) < 0.75 if trial % 3 else None
        ours = toboggan(vol, mask, connectivity=connectivity,
                        chunk_voxels=int(rng.integers(1, 200)))
        ref = toboggan_reference(vol, mask, connectivity)
        assert np.array_equal(ours[0], ref[0]), (shape, trial)
        assert np.array_equal(ours[1], ref[1]), (shape, trial)


def test_steps_report_progress():
    vol = np.random.default_rng(0).random((10, 8, 8))
    events = []
    labels, minima = drain(toboggan_steps(vol, chunk_voxels=128), events.append)
    assert all(isinstance(e, Progress) and e.stage == "toboggan" for e in events)
    assert events[-1].done == events[-1].total and len(events) == events[-1].total
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert np.array_equal(labels, toboggan(vol)[0])


def test_bad_input():
    with pytest.raises(ValueError, match="connectivity"):
        toboggan(np.zeros((2, 2, 2)), connectivity=8)
    with pytest.raises(ValueError, match="3-D"):
        toboggan(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="mask shape"):
        toboggan(np.zeros((2, 2, 2)), np.ones((2, 2, 3), bool))
    with pytest.raises(ValueError, match="numeric"):
        toboggan(np.zeros((2, 2, 2), dtype=object))
