"""``layertune calibrate`` and ``layertune tracings``: pixel spacing and LI/MA tracings.

``calibrate`` sets a study's mm per pixel (the two-click calibration of the GUI, typed:
``--mm-per-pixel``, or ``--distance-mm`` with two ``--point ROW,COL``), or clears it
(``--clear``: back to the DICOM spacing, or none). ``tracings import|export`` moves LI/MA
tracings in and out in the CUBS layout (a folder of ``<id>-LI.txt`` / ``<id>-MA.txt``
with ``CF/<id>_CF.txt``) or as a JSON of polylines (:mod:`core.io.tracings`).
Registered by :mod:`core.cli` through :func:`add_parsers`.
"""

from __future__ import annotations

from core.cli_progress import ProgressPrinter, drive


def _point(text: str) -> tuple[float, float]:
    try:
        row, col = (float(v) for v in text.split(","))
    except ValueError as exc:
        raise ValueError(f"a calibration point is ROW,COL in pixels, got {text!r}") from exc
    return row, col


def cmd_calibrate(args) -> int:
    """Set, compute or clear the calibrated pixel spacing of one study."""
    from core.cli import EXIT_OK, _out
    from core.io.ultrasound_spacing import (
        calibrate_study,
        calibration_mm_per_pixel,
        spacing_text,
    )
    from core.store import Project

    given = [args.mm_per_pixel is not None, args.distance_mm is not None, args.clear]
    if sum(given) != 1:
        raise ValueError("give exactly one of --mm-per-pixel X, --distance-mm D with two "
                         "--point ROW,COL, or --clear")
    value = args.mm_per_pixel
    if args.distance_mm is not None:
        if len(args.point or ()) != 2:
            raise ValueError("--distance-mm needs two --point ROW,COL (the two ticks)")
        p0, p1 = (_point(p) for p in args.point)
        value = calibration_mm_per_pixel(p0, p1, args.distance_mm)
    with Project.open(args.project) as project:
        study = project.find_study(args.study)
        study = calibrate_study(project, study.id, None if args.clear else value,
                                override_dicom=args.override_dicom)
    meta = study.meta or {}
    payload = {"study": study.id, "name": study.name,
               "pixel_spacing_mm": meta.get("pixel_spacing_mm"),
               "spacing_source": meta.get("spacing_source"),
               "spacing_override": bool(meta.get("spacing_override"))}
    _out(args, payload, f"study {study.id} {study.name}: {spacing_text(meta)}")
    return EXIT_OK


def cmd_tracings(args) -> int:
    """Import or export LI/MA tracings (CUBS layout or JSON)."""
    from core.cli import EXIT_INPUT, EXIT_OK, _out
    from core.io.tracings_store import export_tracings, import_tracings
    from core.store import Project

    printer = ProgressPrinter(quiet=args.quiet)
    with Project.open(args.project) as project:
        if args.action == "import":
            rep = drive(import_tracings(project, args.path, fmt=args.format,
                                        index_base=args.index_base), printer)
            lines = [f"{rep.imported} tracings imported from {args.path} ({rep.format}): "
                     f"{rep.added} added, {rep.replaced} replaced, {rep.unchanged} unchanged; "
                     f"{rep.rois_added} ROIs added; {len(rep.refused)} entries refused"]
            if rep.calibrated:
                lines.append(f"pixel spacing taken from the file for {len(rep.calibrated)} "
                             "studies")
            lines += [f"  {p.message}" for p in rep.problems]
            _out(args, rep.to_dict(), "\n".join(lines))
            return EXIT_INPUT if rep.refused and not rep.imported else EXIT_OK
        ids = None
        if args.study:
            ids = [project.find_study(s).id for s in args.study]
        rep = drive(export_tracings(project, args.path, fmt=args.format, study_ids=ids,
                                    index_base=args.index_base), printer)
    _out(args, rep.to_dict(), f"tracings of {rep.n_frames} frames of {rep.n_studies} studies "
                              f"written to {rep.path} ({rep.format})")
    return EXIT_OK


def add_parsers(sub, common) -> None:
    """Register ``calibrate`` and ``tracings`` on the CLI's sub-parsers."""
    sp = sub.add_parser("calibrate", help="set a study's pixel spacing in mm per pixel "
                        "(IMT in mm), from a number or two points a known distance apart")
    sp.add_argument("--project", required=True)
    sp.add_argument("--study", required=True, help="the study's name or id")
    sp.add_argument("--mm-per-pixel", type=float, metavar="X",
                    help="millimetres per pixel (isotropic)")
    sp.add_argument("--distance-mm", type=float, metavar="D",
                    help="the distance in mm between the two --point ticks")
    sp.add_argument("--point", action="append", metavar="ROW,COL",
                    help="a tick of the depth scale in pixels (give two)")
    sp.add_argument("--clear", action="store_true",
                    help="remove the calibration (back to the DICOM spacing, or none)")
    sp.add_argument("--override-dicom", action="store_true",
                    help="let the calibration win over the DICOM ultrasound regions too")
    common(sp)
    sp.set_defaults(func=cmd_calibrate)

    sp = sub.add_parser("tracings", help="import or export LI/MA tracings: the CUBS layout "
                        "(<id>-LI.txt, <id>-MA.txt, CF/<id>_CF.txt) or a JSON of polylines")
    sp.add_argument("action", choices=("import", "export"))
    sp.add_argument("--project", required=True)
    sp.add_argument("--format", choices=("cubs", "json"),
                    help="default: json for a .json file, else cubs (a folder)")
    sp.add_argument("--study", action="append",
                    help="export: a study name or id (repeatable; default: every study)")
    sp.add_argument("--index-base", type=int, choices=(0, 1), default=0,
                    help="cubs: the coordinate of the first pixel (1: MATLAB style)")
    sp.add_argument("path", metavar="FILE|FOLDER")
    common(sp)
    sp.set_defaults(func=cmd_tracings)
