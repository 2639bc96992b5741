"""``layertune studies`` and ``layertune marks``: what a project holds, lesion marks.

``studies`` lists every study with what a script needs to check an import: kind, size,
spacing in mm, orientation, series UID, problems the reader found, and for CT volumes
the Hounsfield range (``--hu`` loads each volume to measure it). ``marks`` moves sphere
marks (emboli, nodules) in and out as LUNA16-style CSV in patient millimetres.
"""

from __future__ import annotations

from core.cli_progress import ProgressPrinter, drive


def study_row(study, hu_range=None) -> dict:
    """The JSON row of one study (no patient data: names are pseudonymous)."""
    meta = study.meta or {}
    row = {"id": study.id, "name": study.name, "kind": study.kind, "task": study.task,
           "split": study.split, "subject": study.subject, "frames": study.n_frames,
           "height": study.height, "width": study.width}
    if study.kind == "ct_series":
        row.update({"shape": meta.get("shape"), "spacing_mm": meta.get("spacing_mm"),
                    "orientation": meta.get("orientation"), "origin_mm": meta.get("origin_mm"),
                    "series_uid": meta.get("series_uid"),
                    "hu_range": hu_range if hu_range is not None else meta.get("hu_range"),
                    "problems": [p.get("message") for p in meta.get("problems", [])],
                    "contrast": (meta.get("contrast") or {}).get("enhanced")})
    else:
        if study.fps:
            row["fps"] = study.fps
        if study.kind in ("us", "image") or "pixel_spacing_mm" in meta:
            from core.io.ultrasound_spacing import spacing_text

            row.update({"pixel_spacing_mm": meta.get("pixel_spacing_mm"),
                        "spacing_source": meta.get("spacing_source"),
                        "spacing": spacing_text(meta)})
    return row


def cmd_studies(args) -> int:
    from core.cli import EXIT_OK, _out
    from core.events import drain
    from core.jobs.volume_candidates import load_checked_hu, no_contrast_text
    from core.store import Project

    rows = []
    with Project.open(args.project) as project:
        for s in project.studies():
            hu, error = None, None
            if args.hu and s.kind == "ct_series":
                try:
                    vol, _geometry, s = drain(load_checked_hu(project, s))
                    hu = [float(vol.min()), float(vol.max())]
                except (OSError, ValueError) as exc:  # one unreadable study: listed, said
                    error = f"cannot be loaded: {exc}"
            row = study_row(s, hu)
            if error:
                row["problems"].insert(0, error)
            if s.kind == "ct_series" and (why := no_contrast_text(s.meta)):
                row["problems"].insert(0, why)
            rows.append(row)

    def line(r: dict) -> str:
        if r["kind"] == "ct_series":
            sp = r["spacing_mm"] or []
            size = "x".join(str(v) for v in (r["shape"] or [])) + " voxels, " + \
                "x".join(f"{v:.3g}" for v in sp) + " mm"
            extra = f", HU {r['hu_range'][0]:.0f}..{r['hu_range'][1]:.0f}" \
                if r.get("hu_range") else ""
            probs = f" [{'; '.join(r['problems'])}]" if r["problems"] else ""
            return f"study {r['id']} {r['name']} ({r['kind']}, {r['split']}): {size}{extra}{probs}"
        return (f"study {r['id']} {r['name']} ({r['kind']}, {r['split']}): {r['frames']} "
                f"frames {r['width']}x{r['height']}"
                + (f", {r['spacing']}" if r.get("spacing") else ""))

    _out(args, {"studies": rows}, "\n".join(line(r) for r in rows) or "no studies")
    return EXIT_OK


def cmd_marks(args) -> int:
    from core.cli import EXIT_INPUT, EXIT_OK, _out
    from core.io.marks import export_marks_csv, import_marks_csv
    from core.store import Project

    printer = ProgressPrinter(quiet=args.quiet)
    with Project.open(args.project) as project:
        if args.action == "import":
            rep = drive(import_marks_csv(project, args.file, task=args.task), printer)
            lines = [f"{rep.added} marks imported, {rep.unchanged} already there"]
            lines += [f"  line {p.line}: {p.message}" for p in rep.problems]
            _out(args, rep.to_dict(), "\n".join(lines))
            return EXIT_INPUT if rep.refused and not rep.added else EXIT_OK
        rep = drive(export_marks_csv(project, args.file, task=args.task), printer)
    _out(args, rep.to_dict(), f"{rep.n_marks} marks of {rep.n_studies} studies written to "
                              f"{args.file} (LUNA16 columns, patient mm)")
    return EXIT_OK


def add_parsers(sub, common) -> None:
    """Register ``studies`` and ``marks`` on the CLI's sub-parsers."""
    sp = sub.add_parser("studies", help="list a project's studies: kind, size, spacing, "
                        "series UID, problems (--hu: HU range of CT volumes)")
    sp.add_argument("--project", required=True)
    sp.add_argument("--hu", action="store_true", help="load each CT volume to give its "
                    "Hounsfield range")
    common(sp)
    sp.set_defaults(func=cmd_studies)

    sp = sub.add_parser("marks", help="import or export lesion marks as LUNA16-style CSV "
                        "(seriesuid,coordX,coordY,coordZ,diameter_mm)")
    sp.add_argument("action", choices=("import", "export"))
    sp.add_argument("--project", required=True)
    sp.add_argument("--task", help="only the studies of this task")
    sp.add_argument("file")
    common(sp)
    sp.set_defaults(func=cmd_marks)
