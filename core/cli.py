"""``layertune`` command line: the same core, no display.

Exit codes a script can rely on:

0 success; 1 unexpected failure; 2 bad command line; 3 pretrained weights missing or
unusable; 4 bad input (unreadable video, bad CSV, project problem); 130 cancelled (Ctrl-C).
Progress goes to stderr, results to stdout (``--json``: one JSON document).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from core.cli_cimt import add_parsers as add_cimt_parsers
from core.cli_experiments import add_parsers as add_experiment_parsers
from core.cli_polyps import add_parsers as add_polyp_parsers
from core.cli_progress import ProgressPrinter, drive
from core.cli_stats import add_parsers as add_stats_parsers
from core.cli_volumes import add_parsers as add_volume_parsers

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_WEIGHTS, EXIT_INPUT, EXIT_CANCEL = 0, 1, 2, 3, 4, 130


def _jsonable(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if hasattr(o, "tolist"):
        return _jsonable(o.tolist())
    return o


def _out(args, payload: dict, text: str) -> None:
    if getattr(args, "json", False):
        print(json.dumps(_jsonable(payload), indent=2))
    else:
        print(text)


# ------------------------------------------------------------------ commands


def cmd_schedule(args) -> int:
    from core.train.model import schedule

    s = schedule(args.depth)
    rows = [f"{'layer':<6} {'tuned':<6} {'weight lr':>10} {'bias lr':>10}"]
    for ls in s.layers:
        rows.append(f"{ls.layer:<6} {'yes' if ls.tuned else 'no':<6} {ls.weight_lr:>10g} "
                    f"{ls.bias_lr:>10g}")
    rows.append(f"momentum {s.momentum}, gamma {s.gamma} (rates x gamma^epoch)")
    _out(args, s.to_dict(), "\n".join(rows))
    return EXIT_OK


def cmd_import(args) -> int:
    from core.io import reader_for
    from core.io.importer import import_path
    from core.store import Project

    for p in args.paths:  # refuse a path no reader takes before creating the project
        reader_for(p)
    with Project.open_or_create(args.project) as project:
        added = []
        printer = ProgressPrinter(quiet=args.quiet)
        for p in args.paths:
            for st in drive(import_path(project, p, split=args.split, subject=args.subject,
                                        task=args.task), printer):
                added.append({"id": st.id, "name": st.name, "frames": st.n_frames,
                              "split": st.split, "path": st.path, "kind": st.kind,
                              "subject": st.subject})
    _out(args, {"studies": added},
         "\n".join(f"study {a['id']} {a['name']}: {a['frames']} frames ({a['split']})"
                   for a in added))
    return EXIT_OK


def cmd_labels(args) -> int:
    from core.io.labels_csv import export_labels_csv, import_labels_csv
    from core.store import Project

    if args.action == "import":
        with Project.open(args.project) as project:
            n = import_labels_csv(project, args.file)
        _out(args, {"imported": n}, f"{n} labels imported from {args.file}")
    else:
        with Project.open(args.project) as project:
            n = export_labels_csv(project, args.file, deidentify=not args.keep_names)
        _out(args, {"exported": n, "deidentified": not args.keep_names},
             f"{n} labels written to {args.file}"
             + ("" if args.keep_names else " (studies by key, not by name: --keep-names "
                "writes their names and file paths)"))
    return EXIT_OK


def _task_options(args) -> dict | None:
    """The task options given on the command line; None when none was (a run's recorded
    options, or the task's defaults, apply)."""
    opts = {k: v for k, v in (("crops_per_frame", args.crops), ("test_crops", args.test_crops),
                              ("sample_interval_s", getattr(args, "sample_interval", None)),
                              ("train_patches", args.patches),
                              ("test_patches", args.test_patches))
            if v is not None}
    return opts or None


def cmd_train(args) -> int:
    from core.jobs import train_run
    from core.store import Project
    from core.train.engine import TrainConfig

    cfg = TrainConfig(depth=args.depth, init=args.init, arch=args.arch, epochs=args.epochs,
                      batch_size=args.batch_size, patience=args.patience, seed=args.seed,
                      device=args.device, precision=args.precision, val_every=args.val_every)
    with Project.open(args.project) as project:
        outcome = drive(train_run(project, cfg, task=args.task, task_options=_task_options(args),
                                  weights_path=args.weights, fraction=args.fraction),
                        ProgressPrinter(quiet=args.quiet))
        run = project.run(outcome.run_id)
    r = outcome.result
    payload = {"run": run.id, "task": run.task, "status": run.status, "depth": run.depth,
               "best_val_auc": r.best_auc, "best_epoch": r.best_epoch + 1,
               "epochs_run": r.epochs_run, "iterations": r.iterations, "stopped": r.stopped,
               "snapshot": run.best_snapshot, "device": r.device, "precision": r.precision,
               "seed": run.seed, "task_options": run.task_options, "split": run.split,
               "history": r.history, "disk_bytes": r.disk_bytes}
    _out(args, payload, f"run {run.id} ({run.depth}): best validation AUC {r.best_auc:.4f} "
                        f"at epoch {r.best_epoch + 1}; model {run.best_snapshot}; "
                        f"{r.disk_bytes / 2**20:.1f} MB on disk")
    return EXIT_OK


def _roc_text(res) -> str:
    from core.stats import verdict

    lines = [f"AUC {res.auc:.4f} (95% CI {res.auc_ci[0]:.4f}-{res.auc_ci[1]:.4f}, DeLong); "
             f"{res.n_pos} positive, {res.n_neg} negative"]
    lo, hi = res.auc_ci_boot
    if math.isfinite(lo) and math.isfinite(hi):
        unit = f"{res.n_groups} videos resampled" if res.grouped else "frames resampled"
        lines.append(f"  95% CI {lo:.4f}-{hi:.4f} (bootstrap, {unit})")
    for op in res.operating_points:
        lines.append(f"  sensitivity at {op.fpr:.0%} FPR: {op.tpr:.3f} "
                     f"(95% CI {op.tpr_ci[0]:.3f}-{op.tpr_ci[1]:.3f})")
    lines += [f"verdict: {s}" for s in verdict(res, res.n_groups)]
    return "\n".join(lines)


def cmd_evaluate(args) -> int:
    from core.jobs import evaluate_run
    from core.store import Project

    with Project.open(args.project) as project:
        res = drive(evaluate_run(project, args.run, task_options=_task_options(args),
                                 device=None if args.device == "auto" else args.device),
                    ProgressPrinter(quiet=args.quiet))
    if hasattr(res, "cpm"):  # a detection task: FROC
        from core.stats.froc_verdict import froc_text

        text = froc_text(res)
    elif hasattr(res, "rois"):  # CIMT: boundary errors per interface, IMT agreement
        text = res.text()
    else:
        text = _roc_text(res)
    _out(args, {"run": args.run, **res.to_dict()}, text)
    return EXIT_OK


def cmd_runs(args) -> int:
    from core.jobs import recover_interrupted_runs
    from core.store import Project

    with Project.open(args.project) as project:
        recover_interrupted_runs(project)
        runs = project.runs()
    rows = [{"id": r.id, "task": r.task, "depth": r.depth, "status": r.status,
             "best_val_auc": r.best_auc, "started": r.started} for r in runs]
    _out(args, {"runs": rows}, "\n".join(
        f"run {r['id']}: {r['task']} {r['depth']} {r['status']} best val AUC "
        f"{r['best_val_auc'] if r['best_val_auc'] is not None else '-'}" for r in rows)
        or "no runs yet")
    return EXIT_OK


def cmd_weights(args) -> int:
    from core.train.weights import (
        WeightsMissingError,
        cache_path,
        install_weights,
        missing_message,
        resolve_weights,
    )

    if args.action == "import":
        w = install_weights(args.file)
        _out(args, {"installed": str(w.path), "sha256": w.sha256, "original": w.original},
             f"installed {w.describe()}")
        return EXIT_OK
    try:
        w = resolve_weights(allow_download=False)
    except WeightsMissingError:
        _out(args, {"available": False, "expected": str(cache_path())}, missing_message())
        return EXIT_WEIGHTS
    _out(args, {"available": True, "path": str(w.path), "sha256": w.sha256,
                "original": w.original, "kind": w.kind},
         f"found {w.describe()}")
    return EXIT_OK


def cmd_demo(args) -> int:
    from core.demo import SMALL, DemoSize, default_demo_folder, headless_demo

    folder = Path(args.project) if args.project else default_demo_folder()
    size = SMALL if args.small else DemoSize()
    summary = drive(headless_demo(folder, size=size, depth=args.depth, epochs=args.epochs,
                                  weights_path=args.weights, seed=args.seed,
                                  device=args.device), ProgressPrinter(quiet=args.quiet))
    from core.stats import RocResult

    t = summary["test"]
    _out(args, summary,
         f"demo run {summary['run']} ({summary['depth']}), project {summary['project']}, "
         f"test frames:\n" + _roc_text(RocResult.from_dict(t)))
    return EXIT_OK


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    from core.tasks import task_names
    from core.train.model import ARCHS, DEPTHS, INITS

    p = argparse.ArgumentParser(prog="layertune", description="Fine-tune AlexNet on expert "
                                "labels at a chosen depth (Tajbakhsh et al., TMI 2016).")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, json_flag=True):
        if json_flag:
            sp.add_argument("--json", action="store_true", help="machine-readable output")
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")

    def training_opts(sp):
        sp.add_argument("--crops", type=int, help="training crops per frame (default 200; "
                        "evaluate: the run's)")
        sp.add_argument("--test-crops", type=int, help="test crops per frame (default 200; "
                        "evaluate: the run's)")
        sp.add_argument("--patches", type=int, help="polyps: training patches per candidate "
                        "(0: all 216; evaluate: the run's); cimt: stratified training "
                        "pixels in all (0: all; the paper 200000)")
        sp.add_argument("--test-patches", type=int, help="polyps: test patches per "
                        "candidate (0: all 216; evaluate: the run's)")
        sp.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")

    sp = sub.add_parser("schedule", help="Table II learning rates of a depth")
    sp.add_argument("--depth", choices=DEPTHS, required=True)
    common(sp)
    sp.set_defaults(func=cmd_schedule)

    sp = sub.add_parser("import", help="add videos, frame folders or image sets to a project")
    sp.add_argument("--project", required=True)
    sp.add_argument("--split", choices=("train", "test"), default="train")
    sp.add_argument("--subject", help="the patient (a pseudonym) these studies belong to; "
                    "one subject's studies are always on the same side of the split")
    sp.add_argument("--task", choices=(*task_names(), "frames"), default="frame_quality",
                    help="the task the studies are for (polyps: an image set's masks are "
                    "stored as the expert's)")
    sp.add_argument("paths", nargs="+")
    common(sp)
    sp.set_defaults(func=cmd_import)

    sp = sub.add_parser("labels", help="import or export frame labels (CSV study,frame,label)")
    sp.add_argument("action", choices=("import", "export"))
    sp.add_argument("--project", required=True)
    sp.add_argument("file")
    sp.add_argument("--keep-names", action="store_true",
                    help="export: name studies by their names and add file paths, users and "
                    "times (default: de-identified study keys)")
    common(sp)
    sp.set_defaults(func=cmd_labels)

    sp = sub.add_parser("train", help="train one run at a depth")
    sp.add_argument("--project", required=True)
    sp.add_argument("--task", choices=(*task_names(), "frames"), default="frame_quality",
                    help="the task (frames: the first release's name of frame_quality)")
    sp.add_argument("--depth", choices=DEPTHS, required=True)
    sp.add_argument("--init", choices=INITS, default=INITS[0],
                    help="scratch initialisation (caffe: the BVLC prototxt's fillers)")
    sp.add_argument("--arch", choices=ARCHS, default="torchvision",
                    help="torchvision's AlexNet, or bvlc: Table I's Caffe AlexNet (scratch, "
                         "or --weights in that layout)")
    sp.add_argument("--epochs", type=int, default=30)
    sp.add_argument("--patience", type=int, default=5)
    sp.add_argument("--batch-size", type=int, default=32)
    sp.add_argument("--fraction", type=float, default=1.0,
                    help="share of the training data (0.5, 0.1, 0.01...): whole videos where "
                    "there are enough, else frames spread through each; validation unchanged")
    sp.add_argument("--sample-interval", type=float, metavar="SECONDS",
                    help="train on one labelled frame every SECONDS of video (the paper: 5); "
                    "default 0: every labelled frame")
    sp.add_argument("--weights", help="ImageNet AlexNet weights file (torchvision format)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    sp.add_argument("--val-every", type=int, default=0,
                    help="also validate every N iterations (0: once per epoch)")
    training_opts(sp)
    common(sp)
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("evaluate", help="ROC (FROC for polyps and emboli; boundary errors "
                        "and IMT agreement for cimt) of a run on the test studies")
    sp.add_argument("--project", required=True)
    sp.add_argument("--run", type=int, required=True)
    training_opts(sp)
    common(sp)
    sp.set_defaults(func=cmd_evaluate)

    sp = sub.add_parser("runs", help="list a project's runs")
    sp.add_argument("--project", required=True)
    common(sp)
    sp.set_defaults(func=cmd_runs)

    add_stats_parsers(sub, common)
    add_polyp_parsers(sub, common)
    add_volume_parsers(sub, common)
    add_cimt_parsers(sub, common)
    add_experiment_parsers(sub, common)

    sp = sub.add_parser("weights", help="show or import the pretrained weights")
    sp.add_argument("action", choices=("status", "import"))
    sp.add_argument("file", nargs="?")
    common(sp)
    sp.set_defaults(func=cmd_weights)

    sp = sub.add_parser("demo", help="the demo project (GUI; headless without a display)")
    sp.add_argument("--project", help="demo project folder (default ~/LayerTune/demo-project)")
    sp.add_argument("--headless", action="store_true", help="run the pipeline, no window")
    sp.add_argument("--small", action="store_true", help="a tiny demo (seconds)")
    sp.add_argument("--depth", choices=DEPTHS)
    sp.add_argument("--epochs", type=int)
    sp.add_argument("--weights")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    common(sp)
    sp.set_defaults(func=cmd_demo)
    return p


def _error(exc: object) -> None:
    """Print ``error: ...`` on stderr; bytes of a name that is not UTF-8 (kept by Python
    as lone surrogates) are shown as ``\\xff`` instead of failing to print."""
    text = str(exc)
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    print(f"error: {text}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    from core.io.base import UnsupportedInputError
    from core.store import ProjectError
    from core.train.checkpoint import SnapshotError
    from core.train.weights import WeightsError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "weights" and args.action == "import" and not args.file:
        parser.error("weights import needs a FILE")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("cancelled", file=sys.stderr)
        return EXIT_CANCEL
    except WeightsError as exc:
        _error(exc)
        return EXIT_WEIGHTS
    except (ProjectError, UnsupportedInputError, SnapshotError, ValueError, FileNotFoundError,
            OSError) as exc:
        _error(exc)
        return EXIT_INPUT
    except Exception as exc:
        from core.io.video import VideoError

        if isinstance(exc, VideoError):
            _error(exc)
            return EXIT_INPUT
        _error(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_FAIL
