"""Full-depth (conv1) training throughput: the engine against a plain torchvision loop.

Ours: :func:`core.train.engine.train` at depth ``conv1`` (every layer tuned),
channels-last, patches gathered as one uint8 batch and normalised as a tensor; timed in
fp32 and in bf16 (autocast).

Reference: what a torchvision user writes: a ``Dataset`` whose ``__getitem__`` crops one
patch and runs ``ToTensor`` + ``Normalize`` on it, a ``DataLoader`` (``num_workers=0``),
``torchvision.models.alexnet`` with ``classifier[6]`` replaced, NCHW, the same SGD
parameter groups (:func:`core.train.model.make_optimizer`) and the same per-epoch decay;
timed in fp32 and, with ``torch.autocast(dtype=torch.bfloat16)`` around the forward
pass and the loss, in bf16. Each precision is compared with the same precision:
**fp32 vs fp32** and **bf16 vs bf16** (ours in bf16 against a reference in fp32 would
credit us with the hardware's bf16 speed; most clinical workstations have no AMX or
AVX512-BF16, where bf16 is emulated and slow for both). The headline is the precision
``auto`` picks on this machine (bf16 only with fast bf16 hardware).

Both sides see the same batches in the same order (the engine's permutation is
replicated; the training split is balanced, so stratifying keeps it whole and in order)
and the same dropout masks (same seeds, same global-RNG draws before the first step),
so their loss trajectories can be compared step by step. The steps of all four runs
are interleaved so that background load on the machine hits them alike.

Gate (exit 1 on failure):
* fp32 check: ours in fp32 against the fp32 reference: the first step within 1e-5
  (same data, weights and dropout masks), the first 5 within 1e-4 relative (same rates
  and momentum), every step within 5e-3 relative (channels-last and NCHW convolutions
  round differently, and the difference grows slowly along the trajectory);
* bf16 check: ours in bf16 against the fp32 reference: every step within 0.005
  absolute, and the mean loss of the last 5 steps within 0.003 (bf16 rounding drifts
  slowly along the trajectory). The bf16 reference's own distance from fp32 is printed
  for scale.
The speed target (>= 1.5x, steady-state median images/s, same precision) is reported,
not gated.

Usage: ``python benchmarks/bench_training.py [--quick] [--steps N]``
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``core`` and ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from benchmarks._common import (
    EngineRun,
    LoopRun,
    OtherLoad,
    StepLog,
    compare_losses,
    crop_dataset,
    fake_pretrained,
    group_split,
    interleave,
    machine_line,
    throughput,
    verdict,
)
from core.train.engine import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TrainConfig,
    resolve_precision,
    train,
)
from core.train.model import make_optimizer, schedule
from core.train.patches import CropDataset
from core.train.sampling import stratify

TARGET = 1.5
SEED = 0
BATCH = 32
# Ten times the paper's rate (fc8: 0.1), so the loss visibly moves within a few dozen
# steps and the trajectories compared below are not flat at ln 2; speed is unaffected.
BASE_LR = 0.01
# Tolerances of the correctness gate (see the module docstring).
FP32_FIRST_ATOL = 1e-5
FP32_EARLY_STEPS, FP32_EARLY_RTOL = 5, 1e-4
FP32_RTOL = 5e-3
BF16_ATOL = 0.005
BF16_TAIL_ATOL = 0.003


# --------------------------------------------------------------------------- reference


class PlainCrops(Dataset):
    """One crop per ``__getitem__``, made a float tensor by torchvision transforms."""

    def __init__(self, ds: CropDataset) -> None:
        from torchvision import transforms

        self.ds = ds
        self.tf = transforms.Compose([transforms.ToTensor(),
                                      transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        r, c = self.ds.offsets[i]
        crop = self.ds.images[self.ds.image_of_patch[i], r:r + self.ds.size, c:c + self.ds.size]
        return self.tf(crop), int(self.ds.labels[i])


def plain_loop(train_ds: CropDataset, pretrained: dict, *, steps: int, seed: int,
               device: torch.device, precision: str = "fp32", n_classes: int = 2):
    """The torchvision-style training loop; yields (loss, batch size, seconds) per step.

    ``precision="bf16"``: the forward pass and the loss under ``torch.autocast`` in
    bfloat16, as the PyTorch documentation shows it (no loss scaling is needed for bf16).
    """
    from torchvision.models import alexnet

    # Same global-RNG draws as core.train.model.build_alexnet + core.train.engine.train, so the
    # dropout masks of the first step (and every later one) are the same as ours.
    torch.manual_seed(seed)
    model = alexnet(weights=None)
    model.load_state_dict(pretrained)
    model.classifier[6] = nn.Linear(4096, n_classes)
    nn.init.normal_(model.classifier[6].weight, 0.0, 0.01)
    nn.init.zeros_(model.classifier[6].bias)
    nn.init.normal_(model.classifier[6].weight, 0.0, 0.01,
                    generator=torch.Generator().manual_seed(seed))
    model = model.to(device)
    sched = schedule("conv1", base_lr=BASE_LR)
    optimizer = make_optimizer(model, sched)
    data = PlainCrops(train_ds)
    perm_gen = torch.Generator().manual_seed(seed + 1)  # the engine's batch order
    done = 0
    for epoch in range(math.ceil(steps * BATCH / len(data)) + 1):
        for g in optimizer.param_groups:
            g["lr"] = g["initial_lr"] * sched.gamma**epoch
        model.train()
        order = torch.randperm(len(data), generator=perm_gen).tolist()
        # A DataLoader draws a base seed for its workers on every ``iter()``, from the
        # global RNG unless given a generator: a generator of its own keeps the global
        # stream (the dropout masks) the same as the engine's.
        loader = DataLoader(data, batch_size=BATCH, sampler=order, num_workers=0,
                            generator=torch.Generator().manual_seed(seed))
        batches = iter(loader)
        while done < steps:
            t0 = time.perf_counter()
            try:
                x, y = next(batches)
            except StopIteration:
                break
            x, y = x.to(device), y.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            lv = loss.item()
            done += 1
            yield lv, len(y), time.perf_counter() - t0
        if done >= steps:
            return


# --------------------------------------------------------------------------- ours


def engine_run(dataset: CropDataset, split, pretrained: dict, *, steps: int, precision: str,
               device: str) -> EngineRun:
    train_idx = split[0]
    cfg = TrainConfig(depth="conv1", batch_size=BATCH, base_lr=BASE_LR, seed=SEED,
                      precision=precision,
                      device=device, max_iterations=steps, patience=10_000,
                      epochs=math.ceil(steps * BATCH / len(train_idx)) + 1)
    return EngineRun(train(dataset, cfg, pretrained=pretrained, split=split),
                     len(train_idx), BATCH)


# --------------------------------------------------------------------------- main


def _row(name: str, log: StepLog) -> tuple[str, float]:
    tp = throughput(log)
    print(f"  {name:<28} {tp.median_images_per_s:8.1f} img/s median   "
          f"{tp.images_per_s:8.1f} img/s mean   ({tp.steps} steps, "
          f"median step {tp.median_step_s * 1000:.0f} ms)")
    return name, tp.median_images_per_s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short run (well under 2 min)")
    ap.add_argument("--fp32", action="store_true", help=argparse.SUPPRESS)  # always now
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per side")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = ap.parse_args(argv)
    steps = args.steps or (8 if args.quick else 30)
    if steps < 3:
        ap.error("--steps must be at least 3 (2 warm-up steps are left out)")
    device = torch.device(args.device)

    dataset = crop_dataset(n_frames=24, crops_per_frame=16, n_groups=4, seed=SEED)
    split = group_split(dataset, val_per_item=2)
    train_idx = split[0]
    # The split is balanced, so the engine's stratification keeps it whole and in order
    # (it returns sorted indices): both sides then index the same training set.
    keep = stratify(dataset.labels[train_idx], np.random.default_rng(SEED))
    if not np.array_equal(keep, np.arange(len(train_idx))):
        raise RuntimeError("the benchmark's training split is not balanced")
    pretrained = fake_pretrained()
    auto = resolve_precision("auto", device)

    print("bench_training: conv1 (all layers tuned) training throughput, same precision "
          "on both sides")
    print(f"  {machine_line()}; precision auto picks {auto} here")
    print(f"  {len(train_idx)} training patches 227x227 from {len(np.unique(dataset.items))} "
          f"frames 350x500, batch {BATCH}, {steps} steps per run (first 2 left out of the "
          f"figures), the steps of the 4 runs interleaved")

    runs = {}
    for prec in ("fp32", "bf16"):
        runs[f"ours {prec}"] = engine_run(dataset, split, pretrained, steps=steps,
                                          precision=prec, device=args.device)
        runs[f"ref {prec}"] = LoopRun(plain_loop(dataset.subset(train_idx), pretrained,
                                                 steps=steps, seed=SEED, device=device,
                                                 precision=prec))
    t0, load = time.perf_counter(), OtherLoad()
    interleave(list(runs.values()), steps)
    for name, r in runs.items():
        if name.startswith("ours"):
            r.finish()
    wall = time.perf_counter() - t0

    print(f"\nthroughput (images/s, data loading included, wall {wall:.0f} s):")
    print(f"  {load.line()}")
    ratios = {}
    for prec in ("fp32", "bf16"):
        _, ips_ours = _row(f"ours ({prec}, channels-last)", runs[f"ours {prec}"].log)
        _, ips_ref = _row(f"reference ({prec}, NCHW)", runs[f"ref {prec}"].log)
        ratios[prec] = ips_ours / ips_ref
        mean = (throughput(runs[f"ours {prec}"].log).images_per_s
                / throughput(runs[f"ref {prec}"].log).images_per_s)
        print(f"  ratio {prec} vs {prec}: {ratios[prec]:.2f}x (median; mean {mean:.2f}x)")
    ratio = ratios[auto]
    print(f"  headline ({auto}, what auto uses here) {ratio:.2f}x   target {TARGET:.1f}x: "
          f"{'MET' if ratio >= TARGET else 'MISSED'}")

    ref32, ours32, ours16, ref16 = (runs[k].log.losses for k in
                                    ("ref fp32", "ours fp32", "ours bf16", "ref bf16"))
    print("\ncorrectness gate (per-step training loss against the fp32 reference):")
    m32 = compare_losses(ours32, ref32, atol=0.0, rtol=FP32_RTOL)
    early = compare_losses(ours32[:FP32_EARLY_STEPS], ref32, atol=0.0, rtol=FP32_EARLY_RTOL)
    first_diff = abs(ours32[0] - ref32[0])
    ok32 = m32.ok and early.ok and first_diff <= FP32_FIRST_ATOL
    print(f"  fp32, {m32.steps} steps: first step |diff| {first_diff:.1e} "
          f"(tol {FP32_FIRST_ATOL:g}), first {early.steps} max rel {early.max_rel:.1e} "
          f"(tol {FP32_EARLY_RTOL:g}), all max rel {m32.max_rel:.1e} (tol {FP32_RTOL:g})  "
          f"{verdict(ok32)}")
    tail = min(5, steps)
    okb = True
    for name, losses in (("ours bf16", ours16), ("ref bf16", ref16)):
        mb = compare_losses(losses, ref32, atol=BF16_ATOL, rtol=0.0)
        tail_diff = abs(np.mean(losses[-tail:]) - np.mean(ref32[-tail:]))
        ok = mb.ok and tail_diff <= BF16_TAIL_ATOL
        gated = name.startswith("ours")
        okb &= ok or not gated
        print(f"  {name}, {mb.steps} steps: max |diff| {mb.max_abs:.4f} (tol {BF16_ATOL}); "
              f"last-{tail} mean |diff| {tail_diff:.4f} (tol {BF16_TAIL_ATOL})  "
              f"{verdict(ok) if gated else '(for scale, not gated)'}")
    jump = float(np.median(np.abs(np.diff(ref32)))) if steps > 1 else math.nan
    print(f"  (for scale: the reference loss goes {ref32[0]:.4f} -> {ref32[-1]:.4f}, "
          f"median change between steps {jump:.4f})")
    for name in runs:
        print(f"  losses {name:9s}: " + " ".join(f"{v:.4f}" for v in runs[name].log.losses))
    ok = ok32 and okb
    print(f"\ngate: {verdict(ok)}; speed: fp32 {ratios['fp32']:.2f}x, bf16 "
          f"{ratios['bf16']:.2f}x; headline ({auto}) vs target {TARGET:.1f}x "
          f"{'MET' if ratio >= TARGET else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
