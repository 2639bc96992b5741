"""``layertune stats``: statistics on CSV files from any tool (no project needed):
ROC with CIs of a score,label file, FROC of detector candidates, and the paired DeLong
comparison of two score columns on the same cases."""

from __future__ import annotations

from pathlib import Path


def read_score_columns(path: str | Path, columns: tuple[str, str],
                       label_column: str = "label"):
    """Two score columns and the 0/1 label column of a CSV file (header row required).

    Column names are matched case-insensitively; blank lines are skipped. Returns
    ``(scores_a, scores_b, labels)`` as float64, float64, int64 arrays; ValueError names
    the file and line of the first bad header or value.
    """
    import math

    import numpy as np

    from core.io.csv_rows import csv_rows

    p = Path(path)
    wanted = [c.strip().lower() for c in (*columns, label_column)]
    out: list[list[float]] = [[], [], []]
    with p.open(newline="", encoding="utf-8-sig") as fh:
        rows = csv_rows(fh, p)
        first = next(rows, None)
        cols = [c.strip().lower() for c in first[1]] if first else []
        missing = [c for c in wanted if c not in cols]
        if missing:
            raise ValueError(f"{p}:1: no column {', '.join(map(repr, missing))} in the "
                             f"header {cols}")
        idx = [cols.index(c) for c in wanted]
        for line, row in rows:
            if not any(c.strip() for c in row):
                continue
            if len(row) <= max(idx):
                raise ValueError(f"{p}:{line}: expected {len(cols)} columns, got {len(row)}")
            for k, (i, name) in enumerate(zip(idx, wanted)):
                raw = row[i].strip()
                if k == 2:
                    if raw not in ("0", "1"):
                        raise ValueError(f"{p}:{line}: {name} {raw!r} must be 0 or 1")
                    out[k].append(int(raw))
                    continue
                try:
                    v = float(raw)
                except ValueError:
                    raise ValueError(f"{p}:{line}: {name} {raw!r} is not a number") from None
                if not math.isfinite(v):
                    raise ValueError(f"{p}:{line}: {name} {raw!r} is not finite")
                out[k].append(v)
    if not out[2]:
        raise ValueError(f"{p}: no data rows after the header")
    return (np.asarray(out[0], dtype=np.float64), np.asarray(out[1], dtype=np.float64),
            np.asarray(out[2], dtype=np.int64))


def _parse_columns(text: str) -> tuple[str, str]:
    cols = [c.strip() for c in text.split(",")]
    if len(cols) != 2 or not all(cols):
        raise ValueError(f"--columns takes two column names A,B, got {text!r}")
    if cols[0].lower() == cols[1].lower():
        raise ValueError(f"--columns names the same column twice: {text!r}")
    return cols[0], cols[1]


def cmd_stats_compare(args) -> int:
    from core.cli import EXIT_OK, EXIT_USAGE, _error, _out
    from core.stats.compare import paired_delong

    try:
        names = _parse_columns(args.columns)
        if not 0 < args.alpha < 1:
            raise ValueError(f"--alpha must be in (0, 1), got {args.alpha}")
    except ValueError as exc:
        _error(exc)
        return EXIT_USAGE
    a, b, labels = read_score_columns(args.scores, names, args.label_column)
    res = paired_delong(a, b, labels, alpha=args.alpha)
    _out(args, {"columns": list(names), **res.to_dict()}, res.text(names))
    return EXIT_OK


def cmd_stats(args) -> int:
    from core.cli import EXIT_OK, EXIT_USAGE, _error, _out, _roc_text

    if args.kind == "froc":
        from core.io.froc_csv import parse_fp_rates, read_froc_csv
        from core.stats import froc_analysis, froc_text

        try:
            rates = parse_fp_rates(args.fps)
            if args.per == "group" and not args.group_column:
                raise ValueError("--per group needs --group-column (which video or patient "
                                 "each image belongs to)")
        except ValueError as exc:
            _error(exc)
            return EXIT_USAGE
        tables = read_froc_csv(args.candidates, args.lesions, args.images, args.group_column)
        a, kw = tables.analysis_args()
        res = froc_analysis(*a, **kw, fps=rates, n_boot=args.bootstrap, seed=args.seed,
                            per=args.per)
        _out(args, res.to_dict(), froc_text(res))
        return EXIT_OK
    from core.io.scores_csv import read_scores_csv
    from core.stats import roc_analysis

    scores, labels = read_scores_csv(args.scores)
    res = roc_analysis(scores, labels)
    _out(args, res.to_dict(), _roc_text(res))
    return EXIT_OK


def add_parsers(sub, common) -> None:
    """Add ``stats roc``, ``stats froc`` and ``stats compare`` to the CLI's subcommands."""
    sp = sub.add_parser("stats", help="statistics on CSV files: roc (scores), froc "
                        "(detector candidates), compare (two classifiers, paired DeLong)")
    kinds = sp.add_subparsers(dest="kind", required=True)
    ssp = kinds.add_parser("roc", help="ROC, AUC with CIs of a score,label file")
    ssp.add_argument("--scores", required=True, help="CSV with columns score,label")
    common(ssp)
    ssp.set_defaults(func=cmd_stats)
    ssp = kinds.add_parser("froc", help="FROC of detector candidates: sensitivity at FP "
                           "rates, CPM, bootstrap CIs")
    ssp.add_argument("--candidates", required=True, metavar="CSV",
                     help="columns image_id,score,lesion_id[,ignore]: lesion_id empty for a "
                     "false positive; ignore=1: neither true nor false positive")
    ssp.add_argument("--lesions", required=True, metavar="CSV",
                     help="columns image_id,lesion_id: every lesion, detected or not")
    ssp.add_argument("--images", metavar="CSV", help="column image_id: every image counted "
                     "(default: the images of the other two files)")
    ssp.add_argument("--fps", default="0.125,0.25,0.5,1,2,4,8", metavar="R,R,...",
                     help="FP rates per image (default LUNA16's 0.125,0.25,0.5,1,2,4,8); "
                     "the CPM is the mean sensitivity over them")
    ssp.add_argument("--bootstrap", type=int, default=1000, metavar="N",
                     help="bootstrap resamples for the CIs (0: none; default 1000)")
    ssp.add_argument("--seed", type=int, default=0, help="seed of the resampling")
    ssp.add_argument("--group-column", metavar="C", help="column (in any of the files) "
                     "giving each image's video or patient: whole groups are resampled")
    ssp.add_argument("--per", choices=("image", "group"), default="image",
                     help="count false positives per image (default) or per group")
    common(ssp)
    ssp.set_defaults(func=cmd_stats)
    ssp = kinds.add_parser("compare", help="two classifiers scored on the same cases: "
                           "both AUCs, their difference with its CI, DeLong's Z and p")
    ssp.add_argument("--scores", required=True, metavar="CSV",
                     help="CSV with a 0/1 label column and one score column per classifier")
    ssp.add_argument("--columns", required=True, metavar="A,B",
                     help="the two score columns to compare (difference = A - B)")
    ssp.add_argument("--label-column", default="label", metavar="C",
                     help="the 0/1 ground-truth column (default: label)")
    ssp.add_argument("--alpha", type=float, default=0.05,
                     help="1 - confidence level of the CI of the difference (default 0.05)")
    common(ssp)
    ssp.set_defaults(func=cmd_stats_compare)
