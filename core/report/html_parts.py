"""HTML pieces of the report: escaped text, tables, definition lists, the style sheet.

Everything is escaped with :func:`html.escape`; the style sheet is inline, so the file
needs nothing but itself.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from core.report.evidence import PairTable, p_text
from core.report.results import fmt

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
 margin:2em auto;max-width:1100px;padding:0 1.5em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;
 margin-top:2em}h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #d0d0d0;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.sig{background:#fde2d8;font-weight:600}td.diag{background:#fafafa}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#555}
.rec{background:#eef6ee;border-left:4px solid #2e7d32;padding:.6em 1em}
.note{background:#fff8e1;border-left:4px solid #f9a825;padding:.4em 1em;margin:.4em 0}
.muted{color:#666}dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dt{font-weight:600}dd{margin:0}pre{background:#f7f7f7;padding:.6em;overflow-x:auto;
 font-size:.85em}
"""


def esc(v: Any) -> str:
    return escape("–" if v is None else str(v), quote=True)


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Iterable[int] = (),
          cls: str = "") -> str:
    """A table; cells given as ``("raw", html)`` are inserted unescaped."""
    num = set(numeric)
    out = [f'<table class="{esc(cls)}">' if cls else "<table>", "<thead><tr>"]
    out += [f"<th>{esc(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        for j, cell in enumerate(row):
            c = ' class="num"' if j in num else ""
            if isinstance(cell, tuple) and len(cell) == 2 and cell[0] == "raw":
                out.append(f"<td{c}>{cell[1]}</td>")
            else:
                out.append(f"<td{c}>{esc(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def dl(pairs: Mapping[str, Any]) -> str:
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(_short(v))}</dd>" for k, v in pairs.items())
    return f"<dl>{items}</dl>"


def _short(v: Any) -> str:
    if isinstance(v, float):
        return fmt(v, 4) if math.isfinite(v) else "–"
    if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str)) for x in v):
        return ", ".join(_short(x) for x in v) if v else "–"
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str)
    return "–" if v is None else str(v)


def pre_json(obj: Any) -> str:
    return f"<pre>{esc(json.dumps(obj, indent=2, default=str, sort_keys=True))}</pre>"


def note(text: str) -> str:
    return f'<div class="note">{esc(text)}</div>'


def pair_matrix(t: PairTable, alpha: float = 0.05) -> str:
    """Upper triangle: row − column difference, its CI, p (p < alpha shaded)."""
    n = len(t.labels)
    unit = f" ({t.unit})" if t.unit else ""
    head = "".join(f"<th>{esc(lab)}</th>" for lab in t.labels[1:])
    rows = []
    for i in range(n - 1):
        cells = [f"<th>{esc(t.labels[i])}</th>"]
        for j in range(1, n):
            c = t.cells.get((i, j))
            if j <= i or c is None:
                cells.append('<td class="diag"></td>')
                continue
            p = c.get("p")
            sig = isinstance(p, (int, float)) and math.isfinite(p) and p < alpha
            ci = c.get("ci") or (math.nan, math.nan)
            ci_txt = (f"<br><span class='muted'>[{fmt(ci[0])}, {fmt(ci[1])}]</span>"
                      if all(isinstance(v, (int, float)) and math.isfinite(v) for v in ci)
                      else "")
            mark = " *" if sig else ""
            cells.append(f'<td class="num{" sig" if sig else ""}">Δ {_signed(c.get("diff"))}'
                         f"{ci_txt}<br>p {esc(p_text(p))}{mark}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<h3>{esc(t.test)} — {esc(t.point)}{esc(unit)}</h3>"
            f"<table><thead><tr><th>row − column</th>{head}</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _signed(v: Any) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    return f"{f:+.3f}" if math.isfinite(f) else "–"


def _rows_table(rows: list[Mapping[str, Any]]) -> str:
    """The recommendation's per-depth table (STATS DepthRow dicts, or any dicts)."""
    known = {"depth", "value", "value_ci", "diff", "diff_ci", "p", "p_noninferiority",
             "passes", "best"}
    if not known <= set(rows[0]):
        cols = list(dict.fromkeys(k for r in rows for k in r))
        return table(cols, ([_short(r.get(c)) for c in cols] for r in rows))

    def ci(v):
        return "–" if not v else f"{fmt(v[0])} to {fmt(v[1])}"

    body = [[r["depth"], f"{fmt(r['value'])} ({ci(r['value_ci'])})",
             "–" if r["best"] else f"{_signed(r['diff'])} ({ci(r['diff_ci'])})",
             "–" if r["best"] else p_text(r["p"]),
             "–" if r["best"] else p_text(r["p_noninferiority"]),
             "best" if r["best"] else ("yes" if r["passes"] else "no")] for r in rows]
    return table(["depth", "value (95 % CI)", "difference to best (95 % CI)", "p (difference)",
                  "p (non-inferiority)", "passes"], body, numeric=(1, 2, 3, 4))


def recommendation(rec: Mapping[str, Any]) -> str:
    """The recommendation box: the depth, the best depth, the evidence, the table."""
    depth = rec.get("depth", rec.get("recommended"))
    best = rec.get("best_depth", rec.get("best"))
    head = (f"<p><strong>Recommended depth: {esc(depth)}</strong>"
            + (f" (best performing: {esc(best)})" if best is not None else "") + "</p>")
    body = []
    ev = rec.get("evidence")
    if isinstance(ev, Mapping):
        if isinstance(ev.get("text"), str):
            body.append(f"<p>{esc(ev['text'])}</p>")
        body.append("<p>Evidence:</p>" + dl({k.replace("_", " "): v for k, v in ev.items()
                                              if k != "text"}))
    elif isinstance(ev, list) and ev and all(isinstance(e, Mapping) for e in ev):
        cols = list(dict.fromkeys(k for e in ev for k in e))
        body.append("<p>Evidence:</p>" + table(cols, ([_short(e.get(c)) for c in cols]
                                                      for e in ev)))
    elif ev is not None:
        body.append(f"<p>Evidence: {esc(_short(ev))}</p>")
    if rec.get("rule") is not None:
        body.append(f"<p class=\"muted\">Rule: {esc(rec['rule'])}"
                    + (f", margin {esc(_short(rec.get('margin')))}" if "margin" in rec else "")
                    + (f", alpha {esc(_short(rec.get('alpha')))}" if "alpha" in rec else "")
                    + (f", metric {esc(rec['metric'])}" if "metric" in rec else "")
                    + " — the shallowest depth not worse than the best.</p>")
    rows = rec.get("rows", rec.get("table"))
    if isinstance(rows, list) and rows and all(isinstance(r, Mapping) for r in rows):
        body.append(_rows_table(rows))
    skip = {"depth", "recommended", "best_depth", "best", "evidence", "rows", "table", "rule",
            "margin", "alpha", "metric", "higher_is_better"}
    rest = {k: v for k, v in rec.items() if k not in skip}
    if rest:
        body.append(dl(rest))
    return f'<div class="rec">{head}{"".join(body)}</div>'
