"""The Emboli workspace's keys: the shortcut sheet and the shortcuts themselves."""

from __future__ import annotations

SHORTCUTS: list[tuple[str, str]] = [
    ("A", "accept the selected candidate: it is an embolus"),
    ("R", "reject the selected candidate: not an embolus"),
    ("Backspace / Del", "forget the decision on the selected candidate (the marks decide)"),
    ("N / Shift+N", "next / previous candidate"),
    ("Q", "next candidate in the review queue (the model's least sure first)"),
    ("Click in a view", "move the crosshair there (the other views follow)"),
    ("Wheel / PgUp PgDn / ↑ ↓", "previous / next slice of the view under the pointer"),
    ("Right drag (or Ctrl+drag)", "window / level: horizontal width, vertical level"),
    ("1 / 2 / 3", "window presets: PE (L100 W700), mediastinum (L40 W400), lung (L-600 W1500)"),
    ("M", "mark mode: drag in a view to mark an embolus (centre, then radius)"),
    ("Shift+drag", "mark an embolus as a sphere in any mode"),
    ("Shift+Del", "delete the marked embolus under the crosshair"),
    ("Ctrl+wheel / middle drag / F", "zoom / pan / fit a view"),
    ("Ctrl+G", "find candidates in this volume (tobogganing; background, cancellable)"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo a decision or a mark"),
    ("Ctrl+T", "start training"),
    ("Esc", "cancel training"),
    ("F1 or ?", "show / hide this help"),
]


def install_shortcuts(ws) -> None:
    """Bind :data:`SHORTCUTS` to ``ws`` (an EmboliWorkspace)."""
    from core.tasks.emboli.truth import ACCEPT, REJECT

    sc = ws.add_shortcut
    sc("A", lambda: ws.decide(ACCEPT))
    sc("R", lambda: ws.decide(REJECT))
    sc("Backspace", lambda: ws.decide(None))
    sc("Delete", lambda: ws.decide(None))
    sc("Shift+Delete", ws.delete_sphere_at_cursor)
    sc("N", lambda: ws.select_next(1))
    sc("Shift+N", lambda: ws.select_next(-1))
    sc("Q", ws.next_in_queue)
    sc("M", lambda: ws.viewer.set_mark_mode(not ws.viewer.mark_button.isChecked()))
    sc("1", lambda: ws.viewer.apply_preset("PE"))
    sc("2", lambda: ws.viewer.apply_preset("Mediastinum"))
    sc("3", lambda: ws.viewer.apply_preset("Lung"))
    sc("PgUp", lambda: ws.viewer.step_active(-1))
    sc("PgDown", lambda: ws.viewer.step_active(1))
    sc("Ctrl+G", ws.find_candidates)
