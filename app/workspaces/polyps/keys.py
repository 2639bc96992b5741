"""The Polyps workspace's keys: the shortcut sheet and the shortcuts themselves."""

from __future__ import annotations

SHORTCUTS: list[tuple[str, str]] = [
    ("A", "accept the selected candidate: it is a polyp"),
    ("R", "reject the selected candidate: not a polyp"),
    ("Backspace / Del", "forget the decision on the selected candidate (the mask decides)"),
    ("N / Shift+N", "next / previous candidate on this frame"),
    ("Q", "next candidate in the review queue (the model's least sure first)"),
    ("0", "this frame has no polyp (an empty mask)"),
    ("V", "select tool: click a box to select it"),
    ("B / E", "brush / eraser"),
    ("P", "polygon: click the corners, Enter closes (Shift+Enter cuts out), Esc cancels"),
    ("G", "fill: click a hole to fill it, a polyp to clear it"),
    ("[ / ]", "smaller / larger brush (or Ctrl+wheel)"),
    ("Mouse wheel / right drag / Space+drag", "zoom / pan the frame"),
    ("F", "fit the frame to the window"),
    ("→ / ←", "next / previous frame"),
    ("Shift+→ / Shift+←", "10 frames forward / back"),
    ("Home / End", "first / last frame"),
    ("Ctrl+G", "find candidates in this video (background, cancellable)"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo a mask edit or a decision"),
    ("Ctrl+T", "start training"),
    ("Esc", "cancel training"),
    ("F1 or ?", "show / hide this help"),
]


def install_shortcuts(ws) -> None:
    """Bind :data:`SHORTCUTS` to ``ws`` (a PolypsWorkspace)."""
    sc = ws.add_shortcut
    sc("A", lambda: ws.decide("polyp"))
    sc("R", lambda: ws.decide("not polyp"))
    sc("Backspace", lambda: ws.decide(None))
    sc("Delete", lambda: ws.decide(None))
    sc("N", lambda: ws.select_next(1))
    sc("Shift+N", lambda: ws.select_next(-1))
    sc("Q", ws.next_in_queue)
    sc("0", ws.mark_no_polyp)
    sc("V", lambda: ws.set_tool("select"))
    sc("B", lambda: ws.set_tool("brush"))
    sc("E", lambda: ws.set_tool("eraser"))
    sc("P", lambda: ws.set_tool("polygon"))
    sc("G", lambda: ws.set_tool("fill"))
    sc("Right", lambda: ws.step(1))
    sc("Left", lambda: ws.step(-1))
    sc("Shift+Right", lambda: ws.step(10))
    sc("Shift+Left", lambda: ws.step(-10))
    sc("Home", lambda: ws.show_frame(0))
    sc("End", lambda: ws.show_frame(ws.n_frames - 1))
    sc("Ctrl+G", ws.find_candidates)
