"""Benchmark: test-time-augmented scoring of polyp candidates, batched vs one patch at a time.

Every candidate is scored as the mean probability over all its augmented patches (SPEC
§1.3/§1.4: 3 scales x 9 positions x 8 orientations = 216 per candidate). Compared:

- ours: :func:`core.tasks.polyps.patches_torch.score_candidates`: the patches of each
  batch (64) built on the device (batched bilinear gather, each base patch interpolated
  and normalised once, then gathered into its 8 orientations) and fed to the network as
  one batch;
- reference: each patch built on its own (the same renderer, one patch per call, so both
  sides score pixel-identical patches) and scored on its own (batch of one), the
  probabilities averaged per candidate.

The network is a random-initialised AlexNet (He/MSRA init: single patches' probabilities
spread, s.d. ~0.08, so a wrong or misplaced patch would move a candidate's mean), 2
classes, fp32 on both sides (bf16 results depend on the batch size in their last bits,
more than the gate allows). No pretrained weights are needed.
Candidates (boxes of 16-160 px, some over the frame border) on textured 288 x 384 frames.
The two sides alternate candidate by candidate, so background load falls on both alike.

Correctness gates (exit status 1): the device-built patches equal the CPU renderer's
(:func:`core.tasks.polyps.patches.render_patches`) within 1 grey level (bit-identical
on a CPU), and every candidate's probabilities agree within 1e-5. Target: >= 3x on CPU.

Usage: python benchmarks/bench_tta.py [--quick] [--candidates N] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import OtherLoad, machine_line, verdict  # noqa: E402
from core.events import drain  # noqa: E402
from core.tasks.polyps.patches import (  # noqa: E402
    PolypPatchConfig,
    candidate_patch_specs,
    render_patches,
)
from core.tasks.polyps.patches_torch import (  # noqa: E402
    PIXEL_TOLERANCE,
    SCORE_TOLERANCE,
    DevicePatchRenderer,
    candidate_scores_per_patch,
    score_candidates,
)
from core.train.model import build_alexnet, initialise  # noqa: E402

TARGET = 3.0
FRAME = (288, 384)
SEED = 0


def frames(n: int, rng: np.random.Generator) -> np.ndarray:
    """Smooth random colour texture with a few bright blobs, (n, 288, 384, 3) uint8."""
    h, w = FRAME
    out = np.empty((n, h, w, 3), np.uint8)
    for f in range(n):
        tex = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 5)
        tex = cv2.normalize(tex, None, 30, 220, cv2.NORM_MINMAX)
        for _ in range(3):
            c = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.circle(tex, c, int(rng.integers(8, 40)), (230, 120, 110), -1)
        out[f] = tex
    return out


def candidates(n: int, n_frames: int, rng: np.random.Generator):
    """(sources, centres, box sides) of ``n`` candidates, some near or over the border."""
    h, w = FRAME
    sources = rng.integers(0, n_frames, n)
    centers = np.stack([rng.uniform(-10, h + 10, n), rng.uniform(-10, w + 10, n)], axis=1)
    return sources, centers, rng.uniform(16, 160, n)


def model(seed: int) -> torch.nn.Module:
    m = build_alexnet(2)
    initialise(m, "msra", torch.Generator().manual_seed(seed))
    torch.nn.init.normal_(m.classifier[6].weight, 0.0, 0.05, generator=torch.Generator()
                          .manual_seed(seed + 1))
    return m.eval()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short run (under ~1 min)")
    ap.add_argument("--candidates", type=int, default=None,
                    help="candidates scored per side (2 with --quick, else 12)")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    ap.add_argument("--batch", type=int, default=64, help="patches per batch (ours)")
    args = ap.parse_args(argv)
    n_cand = args.candidates or (2 if args.quick else 12)
    if n_cand < 1:
        ap.error("--candidates must be at least 1")
    rng = np.random.default_rng(SEED)
    images = frames(4, rng)
    cfg = PolypPatchConfig()
    specs = candidate_patch_specs(*candidates(n_cand, len(images), rng), cfg)
    net = model(SEED)
    dev = torch.device(args.device)
    per = cfg.patches_per_candidate
    print("bench_tta: test-time-augmented candidate scores, batched device patches vs one "
          "patch at a time")
    print(f"  {machine_line()}")
    print(f"  {n_cand} candidates x {per} patches {cfg.size}x{cfg.size} (scales "
          f"{cfg.scales}, shifts {cfg.shifts}, 8 orientations), fp32, device {dev.type}, "
          f"batch {args.batch} vs 1, alternating candidate by candidate")

    # gate 1: the device renderer against the CPU renderer, every patch
    dev_patches = DevicePatchRenderer(images, specs, dev)
    pix = 0
    for s in range(0, len(specs), 256):
        idx = np.arange(s, min(s + 256, len(specs)))
        a = dev_patches.render(idx).cpu().numpy().astype(np.int16)
        pix = max(pix, int(np.abs(a - render_patches(images, specs, idx)).max()))
    pix_ok = pix <= PIXEL_TOLERANCE
    print(f"  patches built on the device vs the CPU renderer: max |diff| {pix} grey levels "
          f"(tolerance {PIXEL_TOLERANCE}) {verdict(pix_ok)}")

    def ours(c: int) -> np.ndarray:
        sub = specs.subset(np.flatnonzero(specs.item == c))
        return drain(score_candidates(net, images, sub, device=dev.type, precision="fp32",
                                      batch_size=args.batch))[c]

    def reference(c: int) -> np.ndarray:
        sub = specs.subset(np.flatnonzero(specs.item == c))
        return candidate_scores_per_patch(net, images, sub, device=dev.type,
                                          precision="fp32")[c]

    warm = specs.subset(np.arange(min(16, len(specs))))  # untimed warm-up of both sides
    drain(score_candidates(net, images, warm, device=dev.type, precision="fp32"))
    candidate_scores_per_patch(net, images, warm, device=dev.type, precision="fp32")

    load = OtherLoad()
    t_ours, t_ref, p_ours, p_ref = [], [], [], []
    for c in range(n_cand):
        for fn, times, probs in ((ours, t_ours, p_ours), (reference, t_ref, p_ref)):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            probs.append(fn(c))
            if dev.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        print(f"  candidate {c + 1}/{n_cand}: ours {t_ours[-1]:.2f} s, reference "
              f"{t_ref[-1]:.2f} s, P(class 1) {p_ours[-1][1]:.6f}", flush=True)
    diff = float(np.abs(np.array(p_ours) - np.array(p_ref)).max())
    score_ok = diff <= SCORE_TOLERANCE
    spread = np.array(p_ours)[:, 1]
    total_o, total_r = sum(t_ours), sum(t_ref)
    ratio = total_r / total_o
    med = float(np.median(np.array(t_ref) / np.array(t_ours)))
    n_p = n_cand * per
    print(f"  ours:      {total_o:7.2f} s  ({n_p / total_o:6.1f} patches/s, "
          f"{total_o / n_cand:.2f} s per candidate)")
    print(f"  reference: {total_r:7.2f} s  ({n_p / total_r:6.1f} patches/s, "
          f"{total_r / n_cand:.2f} s per candidate)")
    # the median per candidate is the figure: a load spike during one batch-of-one run
    # (hit hardest by descheduled threads) inflates the overall ratio
    print(f"  speed-up: {med:.2f}x median per candidate ({ratio:.2f}x overall); target >= "
          f"{TARGET:g}x on CPU: {'met' if med >= TARGET else 'MISSED'}")
    print(f"  scores: max |ours - reference| {diff:.2e} (tolerance {SCORE_TOLERANCE:g}) "
          f"{verdict(score_ok)}; P(class 1) ranges {spread.min():.4f} .. {spread.max():.4f}")
    print(f"  {load.line()}")
    return 0 if (pix_ok and score_ok) else 1


if __name__ == "__main__":
    sys.exit(main())
