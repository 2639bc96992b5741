"""A whole depth sweep as one experiment against nine ``layertune train`` commands.

Ours: one ``sweep`` command (a fresh process): the nine depths of Table II and scratch
as one queue (:mod:`core.experiments`): the pretrained weights read once, the training
data (decoded frames, crops) prepared once, the frozen layers run over the patches once
for all shallow depths (each cut kept: fc7's trunk extends fc6's), then every run
evaluated on the test videos.
Reference: what a user does without the queue: ``layertune train`` at each depth, one
after another, then ``layertune evaluate`` of each run (each a fresh process that reads
the weights, decodes the videos and runs its own frozen-layer pass).

Both on the demo frame-quality project (``--quick``: the SMALL demo, one epoch), same
seed, split, crops and settings. Reported: wall time of each side and the ratio (target
>= 3x: ours against train + evaluate; the train-only reference is shown too), images/s
per depth. Gate (exit 1): every depth's validation and test AUC within ``--tol`` of the
reference's (the shared features are the per-run ones up to the rounding of another
chunking).

Usage: ``python benchmarks/bench_sweep.py [--quick] [--device cuda] [--epochs N]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from benchmarks._common import fake_pretrained, machine_line, verdict
from core.train.model import DEPTHS

TARGET = 3.0
ROOT = Path(__file__).resolve().parents[1]

# ``layertune sweep`` through core.cli_experiments (works before core.cli wires it in)
SWEEP = r"""
import argparse, sys
from core.cli_experiments import add_parsers
p = argparse.ArgumentParser(); sub = p.add_subparsers(dest="command", required=True)
def common(sp):
    sp.add_argument("--json", action="store_true"); sp.add_argument("-q", "--quiet", action="store_true")
add_parsers(sub, common)
a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))
"""


def _layertune() -> list[str]:
    exe = Path(sys.executable).with_name("layertune")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "app"]


def _run(cmd: list[str]) -> tuple[dict, float]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"command failed ({out.returncode}): {' '.join(cmd)}\n{out.stderr[-3000:]}")
    return json.loads(out.stdout), dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="the SMALL demo, one epoch")
    ap.add_argument("--epochs", type=int, help="epochs per run (default 1 quick, 3 full)")
    ap.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    ap.add_argument("--precision", choices=("fp32", "auto", "bf16"), default="fp32")
    ap.add_argument("--weights", help="ImageNet AlexNet weights (default: seeded random "
                    "weights of the same shapes, as custom weights)")
    ap.add_argument("--depths", default=",".join(DEPTHS))
    ap.add_argument("--tol", type=float, default=None,
                    help="AUC tolerance (default 0.005 fp32, 0.03 otherwise)")
    ap.add_argument("--keep", help="work in this folder and keep it")
    args = ap.parse_args(argv)
    from core.demo import SMALL, DemoSize, make_demo_project
    from core.events import drain

    size = SMALL if args.quick else DemoSize()
    epochs = args.epochs or (1 if args.quick else 3)
    depths = [d for d in args.depths.split(",") if d]
    tol = args.tol if args.tol is not None else (0.005 if args.precision == "fp32" else 0.03)
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-sweep-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        weights = args.weights
        if weights is None:
            weights = str(work / "random-alexnet.pth")
            torch.save(fake_pretrained(), weights)
        t0 = time.perf_counter()
        drain(make_demo_project(work / "demo", size)).close()
        print("bench_sweep: one depth-sweep experiment vs nine `layertune train` (+ evaluate)")
        print(f"  {machine_line()}")
        print(f"  demo {'SMALL' if args.quick else 'default'} ({size.n_videos - size.n_test_videos}"
              f" training + {size.n_test_videos} test videos of {size.n_frames} frames, "
              f"{size.crops_per_frame} crops); {epochs} epoch(s); depths {', '.join(depths)}; "
              f"{args.device}, {args.precision}; demo built in {time.perf_counter() - t0:.0f} s",
              flush=True)
        common = ["--project", str(work / "demo"), "--epochs", str(epochs), "--seed", "0",
                  "--crops", str(size.crops_per_frame), "--test-crops", str(size.test_crops),
                  "--device", args.device, "--weights", str(weights), "--json", "-q"]
        # ---- reference: one command per depth, then one evaluate per run
        ref, t_train, t_eval = {}, 0.0, 0.0
        for d in depths:
            tr, dt = _run([*_layertune(), "train", "--depth", d, "--precision", args.precision,
                           "--patience", "5", *common])
            t_train += dt
            ev, de = _run([*_layertune(), "evaluate", "--run", str(tr["run"]),
                           "--project", str(work / "demo"), "--json", "-q"])
            t_eval += de
            ref[d] = {"val": tr["best_val_auc"], "test": ev.get("auc"), "train_s": dt}
            print(f"  reference {d}: train {dt:.1f} s, evaluate {de:.1f} s", flush=True)
        # ---- ours: one sweep command
        sweep, t_ours = _run([sys.executable, "-c", SWEEP, "sweep", "--experiment", "depth",
                              "--depths", *depths, "--precision", args.precision,
                              "--patience", "5", *common])
        print(f"  ours: one sweep, {t_ours:.1f} s", flush=True)
        from core.store import Project

        with Project.open(work / "demo") as p:
            speed = {r["key"]: p.run(r["run_id"]).metrics.get("images_per_s")
                     for r in sweep["runs"]}
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    rows, ok = [], True
    print(f"\n  {'depth':<8} {'val ours':>9} {'val ref':>9} {'test ours':>9} {'test ref':>9} "
          f"{'img/s ours':>10}  match")
    for r in sweep["runs"]:
        d = r["key"]
        t_o, t_r = (r["test"] or {}).get("auc"), ref[d]["test"]
        v_o, v_r = r["best_val_auc"], ref[d]["val"]
        same = all(a is not None and b is not None and abs(a - b) <= tol
                   for a, b in ((v_o, v_r), (t_o, t_r)))
        ok &= same
        rows.append(same)
        sp = speed.get(d)
        print(f"  {d:<8} {v_o:9.4f} {v_r:9.4f} {t_o:9.4f} {t_r:9.4f} "
              f"{'-' if sp is None else f'{sp:10.0f}'}  {verdict(same)}")
    ratio, ratio_train = (t_train + t_eval) / t_ours, t_train / t_ours
    print(f"\n  reference: {t_train:.1f} s training + {t_eval:.1f} s evaluating = "
          f"{t_train + t_eval:.1f} s; ours (training and evaluating): {t_ours:.1f} s")
    print(f"  ratio {ratio:.2f}x (against train-only commands: {ratio_train:.2f}x); target "
          f">= {TARGET:.0f}x: {'MET' if ratio >= TARGET else 'MISSED'}")
    print(f"gate (AUCs within {tol:g} of the reference at every depth): {verdict(ok)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
