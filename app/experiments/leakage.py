"""The leakage warning shown before a run: training and test data that may overlap.

:func:`core.experiments.leakage_check` looks for a subject on both sides of the split,
the same file imported twice, and near-identical frames across the split (64-bit DCT
perceptual hashes within a small Hamming distance). When it finds something, the user
sees each reason and chooses: fix the split first, or run anyway (the warnings are then
kept in the notices list).
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from . import api

#: Tests and scripted sessions set this to a callable ``(warnings) -> bool`` to answer
#: the dialog without showing it (None: ask the user).
answer = None


def leakage_text(warnings: list[str], limit: int = 8) -> str:
    shown = warnings[:limit]
    more = len(warnings) - len(shown)
    lines = [f"• {w}" for w in shown]
    if more > 0:
        lines.append(f"… and {more} more")
    return "\n".join(lines)


def confirm_no_leakage(parent: QWidget | None, project, task: str) -> bool:
    """Run the leakage check; True when nothing was found or the user runs anyway.

    A check that cannot run (no checker installed, an unreadable video) never blocks a
    run: it says so in the parent's notices when it can and lets the run start.
    """
    try:
        warnings = api.leakage_warnings(project, task)
    except Exception as exc:  # noqa: BLE001 - the check must never stop the user's work
        msg = getattr(parent, "message", None)
        if msg is not None and hasattr(msg, "emit"):
            try:
                msg.emit(f"leakage check not made: {exc}", "warning")
            except TypeError:
                msg.emit(f"leakage check not made: {exc}")
        return True
    if not warnings:
        return True
    if answer is not None:
        return bool(answer(warnings))
    box = QMessageBox(QMessageBox.Icon.Warning, "Training and test data may overlap",
                      "Before this run: the test set may not be independent of the training "
                      "set, so its results could look better than they are.\n\n"
                      + leakage_text(warnings)
                      + "\n\nMove the studies concerned to one side of the split "
                        "(or give them their patient), or run anyway.", parent=parent)
    run = box.addButton("Run anyway", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Fix the split first", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return box.clickedButton() is run
