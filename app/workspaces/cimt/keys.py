"""The CIMT workspace's keys: the shortcut sheet and the shortcuts themselves."""

from __future__ import annotations

SHORTCUTS: list[tuple[str, str]] = [
    ("V", "select tool: click an ROI to select it, drag a snake's point to correct it"),
    ("R", "ROI tool: drag a box (up to 3 ROIs per study)"),
    ("L / M", "trace the lumen–intima (LI) / media–adventitia (MA) interface"),
    ("Click / drag", "trace tool: add a point where its column falls / move a point"),
    ("Del / Backspace", "delete the selected traced point (select tool: the selected ROI)"),
    ("Esc", "finish tracing (back to the select tool); else cancel training"),
    ("Drag a snake point", "the point becomes a constraint, the snake re-converges and the "
                           "corrected boundary is saved as the expert's"),
    ("Ctrl+M", "confidence maps, boundaries and snakes of this frame's ROIs (newest model)"),
    ("Ctrl+K", "calibrate the pixel spacing on the depth scale (two clicks)"),
    ("Mouse wheel / right drag", "zoom / pan the frame"),
    ("F", "fit the frame to the window"),
    ("→ / ←, Shift+→ / Shift+←", "next / previous frame, 10 frames"),
    ("Home / End", "first / last frame"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo an ROI, a tracing edit or a snake correction"),
    ("Ctrl+T", "start training"),
    ("F1 or ?", "show / hide this help"),
]


def install_shortcuts(ws) -> None:
    """Bind :data:`SHORTCUTS` to ``ws`` (a CimtWorkspace)."""
    sc = ws.add_shortcut
    sc("V", lambda: ws.set_tool("select"))
    sc("R", lambda: ws.set_tool("roi"))
    sc("L", lambda: ws.trace("LI"))
    sc("M", lambda: ws.trace("MA"))
    sc("Delete", ws.delete_selected)
    sc("Backspace", ws.delete_selected)
    sc("Ctrl+M", ws.compute_maps)
    sc("Ctrl+K", ws.calibrate)
    sc("Right", lambda: ws.step(1))
    sc("Left", lambda: ws.step(-1))
    sc("Shift+Right", lambda: ws.step(10))
    sc("Shift+Left", lambda: ws.step(-10))
    sc("Home", lambda: ws.show_frame(0))
    sc("End", lambda: ws.show_frame(ws.n_frames - 1))
