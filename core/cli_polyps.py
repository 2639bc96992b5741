"""``layertune candidates`` (polyps, emboli) and ``layertune export`` (polyp masks, COCO).

Kept apart from :mod:`core.cli` (which registers them) so that each module stays short.
"""

from __future__ import annotations

from core.cli_progress import ProgressPrinter, drive


def _studies(project, names, task: str = "polyps") -> list:
    from core.tasks import canonical_name

    if names:
        return [project.find_study(n) for n in names]
    return [s for s in project.studies() if canonical_name(s.task) == task]


def cmd_candidates(args) -> int:
    """Run the task's candidate generator; print its recall and candidates per frame
    (polyps) or per volume (emboli: tobogganing, with the vessel axis of each)."""
    from core.cli import EXIT_OK, _out
    from core.jobs.candidates import generate_candidates
    from core.store import Project
    from core.tasks.polyps.candidates import CandidateParams

    if args.task == "emboli":
        return _volume_candidates(args)
    params = CandidateParams() if not args.max_per_frame else CandidateParams(
        max_per_frame=args.max_per_frame)
    with Project.open(args.project) as project:
        studies = _studies(project, args.study)
        if not studies:
            raise ValueError("no polyp studies in this project: import videos or image sets "
                             "with --task polyps first")
        report = drive(generate_candidates(project, [s.id for s in studies], params,
                                           step=args.step), ProgressPrinter(quiet=args.quiet))
    lines = [f"{s.name}: {s.n_candidates} candidates on {s.n_frames} frames; "
             + (f"recall {s.recall:.3f} ({s.n_found}/{s.n_polyps} polyps)" if s.n_polyps
                else "no polyps marked") for s in report.studies]
    lines.append(f"all: {report.text()}")
    _out(args, report.to_dict(), "\n".join(lines))
    return EXIT_OK


def _volume_candidates(args) -> int:
    from core.cli import EXIT_OK, _out
    from core.jobs.volume_candidates import generate_volume_candidates
    from core.store import Project

    with Project.open(args.project) as project:
        studies = _studies(project, args.study, task="emboli")
        if not studies:
            raise ValueError("no CT studies of the emboli task in this project: import a "
                             "DICOM folder with --task emboli first")
        report = drive(generate_volume_candidates(project, [s.id for s in studies]),
                       ProgressPrinter(quiet=args.quiet))
    lines = [f"{s['name']}: {s['candidates']} candidates; "
             + (f"{s['found']}/{s['emboli']} emboli hit" if s["emboli"] else "no emboli marked")
             for s in report.studies]
    lines.append(f"all: {report.text()}")
    _out(args, report.to_dict(), "\n".join(lines))
    return EXIT_OK


def cmd_export(args) -> int:
    """Masks (a PNG folder) or COCO JSON (masks and candidate boxes) of the polyp studies."""
    from core.cli import EXIT_OK, _out
    from core.store import Project

    with Project.open(args.project) as project:
        ids = [s.id for s in _studies(project, args.study)]
        printer = ProgressPrinter(quiet=args.quiet)
        if args.format == "masks":
            from core.io.masks import export_mask_folder

            rep = drive(export_mask_folder(project, ids, args.output), printer)
            text = f"{rep.n_masks} masks written to {args.output}"
        else:
            from core.io.coco import export_coco

            rep = drive(export_coco(project, ids, args.output,
                                    include_candidates=not args.no_candidates,
                                    deidentify=not args.keep_names), printer)
            text = (f"COCO written to {args.output}: {rep.n_images} images, {rep.n_polyps} "
                    f"polyps, {rep.n_candidates} candidates"
                    + ("" if args.keep_names else " (de-identified: --keep-names adds paths "
                       "and patients)"))
    _out(args, rep.to_dict(), text)
    return EXIT_OK


def add_parsers(sub, common) -> None:
    """Register ``candidates`` and ``export`` on the CLI's sub-parsers."""
    sp = sub.add_parser("candidates", help="run a task's candidate generator (polyps: shape "
                        "voting; emboli: tobogganing); its recall and candidates per frame "
                        "or volume")
    sp.add_argument("--project", required=True)
    sp.add_argument("--task", choices=("polyps", "emboli"), default="polyps")
    sp.add_argument("--study", action="append", help="a study name or id (repeatable; "
                    "default: every polyp study)")
    sp.add_argument("--step", type=int, default=1, help="every STEP-th frame (default 1)")
    sp.add_argument("--max-per-frame", type=int, help="most candidates per frame "
                    "(default 30)")
    common(sp)
    sp.set_defaults(func=cmd_candidates)

    sp = sub.add_parser("export", help="export polyp masks (PNG folder) or COCO JSON")
    sp.add_argument("--project", required=True)
    sp.add_argument("--format", choices=("coco", "masks"), required=True)
    sp.add_argument("--study", action="append", help="a study name or id (repeatable; "
                    "default: every polyp study)")
    sp.add_argument("--no-candidates", action="store_true",
                    help="coco: leave the candidate boxes out")
    sp.add_argument("--keep-names", action="store_true",
                    help="coco: add file paths and patient keys (default: de-identified)")
    sp.add_argument("output", help="the folder (masks) or .json file (coco) to write")
    common(sp)
    sp.set_defaults(func=cmd_export)
