"""The Frame-quality workspace's keys: the shortcut sheet and the shortcuts themselves."""

from __future__ import annotations

from .labelling import INFORMATIVE, NON_INFORMATIVE

SHORTCUTS: list[tuple[str, str]] = [
    ("I", "label frame informative"),
    ("N", "label frame non-informative"),
    ("Backspace / Del", "clear the frame's label"),
    ("[ / ]", "mark the start / end of a range; then I, N or Del label the whole range"),
    ("Shift+click on the strip", "mark a range from the current frame to the clicked one"),
    ("X", "forget the range marks"),
    ("→ / ←", "next / previous frame (sampled frame in sampled labelling)"),
    ("Shift+→ / Shift+←", "10 frames (samples) forward / back"),
    ("PgDn / PgUp", "100 frames (samples) forward / back"),
    ("Home / End", "first / last frame"),
    ("U", "next unlabelled frame in any video (training videos first)"),
    ("D", "next disagreement (model vs label)"),
    ("Mouse wheel / drag", "zoom / pan the frame"),
    ("F or double-click", "fit the frame to the window"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo a label (a range is one step)"),
    ("Ctrl+T", "start training"),
    ("Esc", "cancel training"),
    ("F1 or ?", "show / hide this help"),
]


def install_shortcuts(ws) -> None:
    """Bind :data:`SHORTCUTS` to ``ws`` (a FrameQualityWorkspace)."""
    sc = ws.add_shortcut
    sc("I", lambda: ws.set_label(INFORMATIVE))
    sc("N", lambda: ws.set_label(NON_INFORMATIVE))
    sc("Backspace", lambda: ws.set_label(None))
    sc("Delete", lambda: ws.set_label(None))
    sc("[", ws.mark_start)
    sc("]", ws.mark_end)
    sc("X", ws.clear_marks_said)
    sc("Right", lambda: ws.step(1))
    sc("Left", lambda: ws.step(-1))
    sc("Shift+Right", lambda: ws.step(10))
    sc("Shift+Left", lambda: ws.step(-10))
    sc("PgDown", lambda: ws.step(100))
    sc("PgUp", lambda: ws.step(-100))
    sc("Home", lambda: ws.show_frame(0))
    sc("End", lambda: ws.show_frame(ws.n_frames - 1))
    sc("U", ws.next_unlabelled)
    sc("D", lambda: ws.disagreements.activate_next(1))
    sc("F", ws.viewer.fit)
