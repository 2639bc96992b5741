"""Benchmark: dense CIMT confidence maps vs classifying each pixel's patch in batches.

Ours: :func:`core.tasks.cimt.dense.dense_probabilities` on a 64 x 64 and a 128 x 128 ROI
(shift-and-stitch over the context network, fc layers as convolutions), end to end:
padding, preprocessing, network, stitching.

Reference: what a competent user writes without the dense scheme,
:func:`core.tasks.cimt.dense.pixel_probabilities`: each pixel's 355 x 355 centred patch
(:func:`core.tasks.cimt.pixels.centred_patches`), the training engine's preprocessing,
the context network in eval mode, in batches of 256, same device and precision.
Every batch does the same work whatever its pixels, so the reference is timed on
``--ref-batches`` batches of randomly drawn ROI pixels and its time for the whole ROI is
the median batch time times the number of batches the ROI needs (``--full-reference``
classifies every pixel instead: about 20 CPU-minutes per 128 x 128 ROI).

Timing: ours and the reference batches alternate (``--repeats`` runs of ours, medians)
so that load from other processes falls on both.

Correctness gate (exit status 1): at every pixel the reference classified, the dense
probabilities equal the reference's within 1e-4 (fp32, random weights scaled so that the
probabilities are far from uniform and from 0/1). The speed target (>= 7x at 128 x 128)
is reported, not gated.

Usage: python benchmarks/bench_dense.py [--quick] [--arch torchvision|bvlc]
       [--sizes 64,128] [--ref-batches N] [--repeats R] [--full-reference] [--device D]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import OtherLoad, machine_line  # noqa: E402
from core.tasks.cimt.dense import dense_probabilities, pixel_probabilities  # noqa: E402
from core.tasks.cimt.network import context_net  # noqa: E402
from core.tasks.cimt.pixels import centred_patches  # noqa: E402
from core.train.model import build_alexnet, initialise  # noqa: E402
from core.train.predict import resolve_device, to_input  # noqa: E402

TARGET = 7.0
TOL = 1e-4
BATCH = 256


def random_model(arch: str, seed: int = 0) -> torch.nn.Module:
    """A 3-class AlexNet with He-normal weights and fc8 scaled so that logits spread
    over a few units (probabilities neither uniform nor saturated)."""
    gen = torch.Generator().manual_seed(seed)
    model = build_alexnet(3, arch=arch)
    initialise(model, "msra", gen)
    grey = synthetic_image(seed=seed + 1)
    net = context_net(model).eval()
    with torch.no_grad():
        x = to_input(centred_patches(grey, [100, 150, 200, 250], [100, 200, 300, 400]),
                     torch.device("cpu"))
        spread = float(net(x).std())
        model.classifier[6].weight.mul_(1.5 / max(spread, 1e-6))
        model.classifier[6].bias.normal_(0.0, 0.5, generator=gen)
    return model


def synthetic_image(shape: tuple[int, int] = (400, 520), seed: int = 0) -> np.ndarray:
    """Grey B-mode-like test image: Rayleigh speckle over a dark band and a bright wall."""
    rng = np.random.default_rng(seed)
    rows = np.arange(shape[0])[:, None]
    mean = np.where(rows < shape[0] * 0.45, 15.0, 70.0) + 120.0 * np.exp(
        -0.5 * ((rows - shape[0] * 0.55) / 4.0) ** 2)
    img = mean * rng.rayleigh(1.0, shape) / math.sqrt(math.pi / 2)
    return np.clip(img, 0, 255).astype(np.uint8)


def _timed(f, *args, **kw):
    t0 = time.perf_counter()
    out = f(*args, **kw)
    return time.perf_counter() - t0, out


def run_size(model, grey, n: int, args, rng: np.random.Generator) -> tuple[bool, float]:
    r0 = (grey.shape[0] - n) // 2
    c0 = (grey.shape[1] - n) // 2
    roi = (r0, c0, r0 + n, c0 + n)
    kw = dict(device=args.device, precision="fp32")
    n_batches = math.ceil(n * n / BATCH)
    if args.full_reference:
        order = np.arange(n * n)
    else:
        order = rng.permutation(n * n)[:min(n_batches, args.ref_batches) * BATCH]
    batches = [order[s:s + BATCH] for s in range(0, order.size, BATCH)]
    per_rep = math.ceil(len(batches) / max(1, args.repeats))
    t_dense, t_ref, checked, worst = [], [], 0, 0.0
    dense = None
    for rep in range(max(1, args.repeats)):  # alternate: ours, then reference batches
        t, dense = _timed(dense_probabilities, model, grey, roi, **kw)
        t_dense.append(t)
        for idx in batches[rep * per_rep:(rep + 1) * per_rep]:
            rr, cc = idx // n, idx % n
            t, ref = _timed(pixel_probabilities, model, grey, rr + r0, cc + c0,
                            batch_size=BATCH, **kw)
            t_ref.append(t)
            worst = max(worst, float(np.abs(dense[:, rr, cc].T - ref).max()))
            checked += idx.size
    m_dense = statistics.median(t_dense)
    ref_total = statistics.median(t_ref) * n_batches if not args.full_reference else sum(t_ref)
    ratio = ref_total / m_dense
    ok = worst <= TOL and checked > 0
    how = ("every pixel" if args.full_reference else
           f"{len(t_ref)} of {n_batches} batches timed, median x {n_batches}")
    runs = ", ".join(f"{t:.2f}" for t in t_dense)
    print(f"  {n}x{n} ROI ({n * n} pixels):")
    print(f"    dense (ours):         {m_dense:9.2f} s  (median of {len(t_dense)}: {runs}; "
          f"{m_dense / (n * n) * 1e3:.2f} ms per pixel)")
    print(f"    per-pixel patches:    {ref_total:9.2f} s  ({how}; "
          f"{statistics.median(t_ref) / BATCH * 1e3:.1f} ms per pixel)")
    target = f" (target >= {TARGET:g}x: {'met' if ratio >= TARGET else 'MISSED'})" \
        if n == 128 else ""
    print(f"    ratio {ratio:.1f}x{target}")
    print(f"    equality: {checked} pixels, max |dense - per-pixel| {worst:.2e} "
          f"(<= {TOL:g}: {'yes' if ok else 'NO'})")
    return ok, ratio


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="64x64 only, one reference batch, one run (under a minute)")
    ap.add_argument("--arch", default="torchvision", choices=("torchvision", "bvlc"))
    ap.add_argument("--sizes", default=None, help="ROI sides, comma-separated (64,128)")
    ap.add_argument("--ref-batches", type=int, default=None,
                    help="reference batches of 256 timed per ROI (default 4; quick 1)")
    ap.add_argument("--repeats", type=int, default=None, help="runs of ours (default 2)")
    ap.add_argument("--full-reference", action="store_true",
                    help="classify every ROI pixel by its patch (slow, no extrapolation)")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sizes = [int(s) for s in (args.sizes or ("64" if args.quick else "64,128")).split(",")]
    args.ref_batches = args.ref_batches or (1 if args.quick else 4)
    args.repeats = args.repeats or (1 if args.quick else 2)
    dev = resolve_device(args.device)
    print(f"{args.arch} AlexNet context net (random weights), fp32 on {dev.type}; "
          f"{machine_line()}")
    model = random_model(args.arch, args.seed)
    grey = synthetic_image(seed=args.seed)
    rng = np.random.default_rng(args.seed)
    load = OtherLoad()
    dense_probabilities(model, grey, (0, 0, 8, 8), device=args.device)  # warm-up
    ok = True
    for n in sizes:
        good, _ = run_size(model, grey, n, args, rng)
        ok = ok and good
    print(f"  {load.line()}")
    print(f"correctness gate: {'PASS' if ok else 'FAIL'} (dense equals per-pixel "
          f"classification within {TOL:g} at every reference pixel)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
