"""``layertune sweep | experiments | recommend | report``: the experiments board, headless.

``sweep`` starts an experiment (or resumes one: ``--resume E``) and runs its queue with
progress on stderr; Ctrl-C cancels (the finished runs are kept; ``--resume`` goes on).
Exit codes as in :mod:`core.cli` (4: bad input, e.g. too few labels, a Ray address that
does not answer).
"""

from __future__ import annotations

import sys


def _out(args, payload: dict, text: str) -> None:
    from core.cli import _out as out

    out(args, payload, text)


class _QueuePrinter:
    """The CLI's progress printer, plus one line per queue event."""

    def __init__(self, quiet: bool) -> None:
        from core.cli_progress import ProgressPrinter

        self.quiet, self.printer = quiet, ProgressPrinter(quiet=quiet)

    def __call__(self, ev) -> None:
        from core.experiments import QueueEvent

        if not isinstance(ev, QueueEvent):
            self.printer(ev)
        elif not self.quiet:
            print(ev.text(), file=sys.stderr, flush=True)

    def close(self) -> None:
        self.printer.close()


def _plan(args) -> dict:
    from core.experiments import make_plan

    train = {k: v for k, v in (("epochs", args.epochs), ("batch_size", args.batch_size),
                               ("patience", args.patience), ("device", args.device),
                               ("precision", args.precision), ("val_every", args.val_every))
             if v is not None}
    from core.cli import _task_options  # the train command's options, the same names

    opts = _task_options(args) or {}
    target = None
    if args.target is not None:
        target = {"metric": args.target_metric, "value": args.target}
    return make_plan(args.experiment, args.task, depths=args.depths, fractions=args.fractions,
                     inits=args.inits, seed=args.seed, train=train, task_options=opts,
                     weights=args.weights, target=target)


def cmd_sweep(args) -> int:
    from core.cli_progress import drive
    from core.experiments import run_experiment, start_experiment
    from core.store import Project

    if args.engine == "ray":  # an address that does not answer: refused before anything
        from core.experiments.ray_engine import RayUnavailableError, check_address

        try:
            check_address(args.address)
        except RayUnavailableError as exc:
            raise ValueError(str(exc)) from None
    with Project.open(args.project) as project:
        if args.resume is not None:
            exp = project.experiment(args.resume)
        else:
            exp = start_experiment(project, args.experiment, args.task, _plan(args))
            if not args.quiet:
                print(f"experiment {exp.id}: {exp.kind} on {exp.task}, {len(exp.plan['runs'])}"
                      " runs", file=sys.stderr)
        try:
            out = drive(run_experiment(project, exp.id, engine=args.engine,
                                       address=args.address), _QueuePrinter(args.quiet))
        except ImportError as exc:
            raise ValueError(str(exc)) from None
    rows = out.to_dict()
    text = [f"experiment {out.experiment_id} ({out.kind}, {out.task}): {out.status}"]
    from core.experiments.queue import headline_text

    for r in out.runs:
        test = headline_text(r.test) if r.test else ""
        text.append(f"  {r.key:<14} run {r.run_id}: {r.status:<9} val AUC "
                    f"{'-' if r.best_val_auc is None else f'{r.best_val_auc:.4f}'}  "
                    f"{test or 'not evaluated'}")
    _out(args, rows, "\n".join(text))
    return 0


def cmd_experiments(args) -> int:
    from core.experiments import summarise
    from core.store import Project

    with Project.open(args.project) as project:
        rows = [summarise(project, e.id).to_dict() | {"created": e.created,
                                                        "finished": e.finished}
                for e in project.experiments()]
    text = "\n".join(
        f"experiment {r['experiment']}: {r['kind']} on {r['task']}, {r['status']}, "
        f"{sum(x['status'] in ('finished', 'diverged') for x in r['runs'])} of "
        f"{len(r['runs'])} runs done" for r in rows) or "no experiments yet"
    _out(args, {"experiments": rows}, text)
    return 0


def cmd_recommend(args) -> int:
    from core.experiments.results import recommendation
    from core.store import Project

    with Project.open(args.project) as project:
        exp = project.experiment(args.experiment)
        rec = recommendation(project, exp.id, margin=args.margin)
    _out(args, {"experiment": exp.id, "kind": exp.kind, **rec.to_dict()}, rec.text())
    return 0


def cmd_report(args) -> int:
    from core.store import Project

    try:
        from core.report.html import write_report
    except ImportError as exc:
        raise ValueError(f"the report needs the optional extra 'report' ({exc}): "
                         "pip install 'layertune[report]'") from None
    with Project.open(args.project) as project:
        project.experiment(args.experiment)
        path = write_report(project, args.experiment, args.out)
    _out(args, {"experiment": args.experiment, "report": str(path)}, f"wrote {path}")
    return 0


def add_parsers(sub, common) -> None:
    """Add ``sweep``, ``experiments``, ``recommend`` and ``report`` to ``layertune``."""
    from core.experiments import KINDS
    from core.tasks import task_names
    from core.train.model import DEPTHS, INITS

    sp = sub.add_parser("sweep", help="run an experiment: a queue of runs on one split "
                        "and seed (depth ladder, reduced data, convergence, label budget)")
    sp.add_argument("--project", required=True)
    sp.add_argument("--task", choices=(*task_names(), "frames"), default="frame_quality")
    sp.add_argument("--experiment", choices=KINDS, default="depth")
    sp.add_argument("--resume", type=int, metavar="E", help="resume experiment E instead")
    sp.add_argument("--depths", nargs="+", choices=DEPTHS)
    sp.add_argument("--fractions", nargs="+", type=float,
                    help="data / budget: shares of the training labels (0.5 or 50)")
    sp.add_argument("--inits", nargs="+", choices=INITS, help="convergence: scratch inits")
    sp.add_argument("--target", type=float, help="budget: the performance to reach")
    sp.add_argument("--target-metric", default="auc",
                    choices=("auc", "sensitivity@0.1", "sensitivity@0.15", "sensitivity@0.2",
                             "cpm"))
    sp.add_argument("--epochs", type=int)
    sp.add_argument("--batch-size", type=int)
    sp.add_argument("--patience", type=int)
    sp.add_argument("--val-every", type=int)
    sp.add_argument("--precision", choices=("auto", "fp32", "bf16"))
    sp.add_argument("--device", choices=("auto", "cpu", "cuda"))
    sp.add_argument("--crops", type=int, help="frame quality: training crops per frame")
    sp.add_argument("--test-crops", type=int, help="frame quality: test crops per frame")
    sp.add_argument("--patches", type=int, help="polyps, emboli: training patches per "
                    "candidate (0: all); cimt: stratified training pixels in all")
    sp.add_argument("--test-patches", type=int, help="polyps, emboli: test patches per "
                    "candidate (0: all, the paper's; fewer evaluates faster)")
    sp.add_argument("--weights", help="ImageNet AlexNet weights file")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--engine", choices=("local", "ray"), default="local")
    sp.add_argument("--address", help="ray: the cluster's address (default: this machine)")
    common(sp)
    sp.set_defaults(func=cmd_sweep)

    sp = sub.add_parser("experiments", help="list a project's experiments and their runs")
    sp.add_argument("--project", required=True)
    common(sp)
    sp.set_defaults(func=cmd_experiments)

    sp = sub.add_parser("recommend", help="the shallowest depth not significantly worse "
                        "than the best (non-inferiority), with its evidence")
    sp.add_argument("--project", required=True)
    sp.add_argument("--experiment", type=int, required=True)
    sp.add_argument("--margin", type=float, help="non-inferiority margin (metric units)")
    common(sp)
    sp.set_defaults(func=cmd_recommend)

    sp = sub.add_parser("report", help="one self-contained HTML report of an experiment")
    sp.add_argument("--project", required=True)
    sp.add_argument("--experiment", type=int, required=True)
    sp.add_argument("--out", required=True)
    common(sp)
    sp.set_defaults(func=cmd_report)
