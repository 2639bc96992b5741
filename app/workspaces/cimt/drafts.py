"""One-point tracings, kept as drafts in the project until a second point is placed.

A stored tracing is a :class:`~core.store.geometry.Polyline` (2 points or more) and a
CIMT study takes no other kind of point annotation, so the first point the expert clicks
on an interface cannot be a tracing yet. It is not lost either: it is written at once
to the project as a draft (project fact ``cimt_drafts``), drawn on the canvas as the
start of the tracing, restored when the study or the project is opened again, and
undoable; the second point turns it into the stored polyline (and clears the draft) in
one undo step. Drafts are not tracings: training, evaluation, IMT and the exports
ignore them.

The fact is a JSON object ``{"<study id>/<frame>/<interface>": [row, col], ...}``.

Qt-free.
"""

from __future__ import annotations

KEY = "cimt_drafts"


def _key(study_id: int, frame: int, name: str) -> str:
    return f"{int(study_id)}/{int(frame)}/{name}"


def _all(project) -> dict:
    got = project.get_info(KEY, {})
    return got if isinstance(got, dict) else {}


def study_drafts(project, study_id: int) -> dict[tuple[int, str], tuple[float, float]]:
    """The study's drafts: ``{(frame, interface): (row, col)}`` (damaged entries skipped)."""
    out = {}
    for k, v in _all(project).items():
        try:
            sid, frame, name = str(k).split("/")
            if int(sid) != int(study_id) or name not in ("LI", "MA"):
                continue
            out[(int(frame), name)] = (float(v[0]), float(v[1]))
        except (TypeError, ValueError, IndexError):
            continue
    return out


def set_draft(project, study_id: int, frame: int, name: str, point) -> None:
    """Store (``point`` = (row, col)) or remove (``point`` None) one draft."""
    drafts = dict(_all(project))
    k = _key(study_id, frame, name)
    if point is None:
        if k not in drafts:
            return
        drafts.pop(k)
    else:
        drafts[k] = [float(point[0]), float(point[1])]
    project.set_info(KEY, drafts)
