"""Leakage check: near-identical frames across the split (pHash), look-alike subjects."""

from __future__ import annotations

import cv2
import numpy as np

from core.events import drain
from core.experiments.leakage import hamming, leakage_check, phash
from core.io.importer import import_study
from core.store import Project
from core.synth import make_video


def _texture(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8), (160, 120),
                     interpolation=cv2.INTER_CUBIC)
    return img


def test_phash_is_stable_under_small_changes_and_tells_images_apart():
    a, b = _texture(0), _texture(1)
    brighter = np.clip(a.astype(int) + 6, 0, 255).astype(np.uint8)
    noisy = np.clip(a + np.random.default_rng(2).normal(0, 3, a.shape), 0, 255).astype(np.uint8)
    half = cv2.resize(a, (80, 60), interpolation=cv2.INTER_AREA)
    h = [phash(x) for x in (a, brighter, noisy, half, b)]
    d = hamming(h[:1], h)[0]
    assert d[0] == 0 and max(d[1:4]) <= 4 and d[4] >= 16
    assert 0 <= h[0] < 2**64
    # hand-made: a left-to-right ramp has its energy in the first row of the DCT
    ramp = np.tile(np.linspace(0, 255, 64), (64, 1)).astype(np.uint8)
    assert phash(ramp) == phash(ramp.T[:, ::-1].T)  # the same image, same hash
    assert hamming([phash(ramp)], [phash(ramp.T)])[0, 0] > 0


def _reencode(src, dst, shift: int) -> None:
    cap = cv2.VideoCapture(str(src))
    frames = []
    while True:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(np.clip(f.astype(int) + shift, 0, 255).astype(np.uint8))
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 25, (w, h))
    for f in frames:
        out.write(f)
    out.release()


def test_leakage_check_finds_a_test_video_that_copies_a_training_one(tmp_path):
    rng = np.random.default_rng(0)
    with Project.create(tmp_path / "p") as p:
        vids = [drain(make_video(tmp_path / f"v{i}.mp4", 20, rng, size=(120, 160)))
                for i in range(3)]
        drain(import_study(p, vids[0].path, split="train", subject="Patient 01"))
        drain(import_study(p, vids[1].path, split="train"))
        drain(import_study(p, vids[2].path, split="test"))
        assert [w.kind for w in leakage_check(p, "frame_quality")] == []
        _reencode(vids[0].path, tmp_path / "copy.mp4", 4)  # re-encoded, a little brighter
        copy = drain(import_study(p, tmp_path / "copy.mp4", split="test",
                                  subject="patient-01"))
        found = leakage_check(p, "frame_quality")
    kinds = {w.kind for w in found}
    assert kinds == {"near_identical", "subject"}
    near = next(w for w in found if w.kind == "near_identical")
    assert near.test_study == copy.id and len(near.pairs) >= 5
    assert sum(pair[1] == pair[3] for pair in near.pairs) >= 5  # frame k matches frame k
    assert "Patient 01" in next(w for w in found if w.kind == "subject").message
