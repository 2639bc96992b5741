"""The main window's menus: File (projects, imports, exports), Edit, View, Training, Help.

Kept apart from :mod:`app.main_window` so that the window module only wires parts; each
entry calls a method of the window (or of the current tab's workspace).
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from .dialogs.import_dialog import KINDS


def add_action(win, menu: QMenu, text: str, fn, shortcut=None, tip=None) -> QAction:
    a = QAction(text, win)
    if shortcut:
        if isinstance(shortcut, (list, tuple)):
            a.setShortcuts([QKeySequence(s) for s in shortcut])
        else:
            a.setShortcut(QKeySequence(shortcut))
    if tip:
        a.setStatusTip(tip)
        a.setToolTip(tip)
    a.triggered.connect(lambda _checked=False: fn())  # never pass `checked` on as an argument
    menu.addAction(a)
    return a


def build_menus(win) -> None:
    """Fill ``win``'s menu bar; sets ``win._file_actions``, ``undo_action``...``help``."""
    act = add_action
    m = win.menuBar().addMenu("&File")
    act(win, m, "&New project…", win.new_project, "Ctrl+Shift+N",
        "Make a new project: a folder for labels, runs and models")
    act(win, m, "&Open project…", win.open_project, "Ctrl+O", "Open another project folder")
    win.recent_menu = m.addMenu("&Recent projects")
    win.recent_menu.aboutToShow.connect(win.fill_recent_menu)
    m.addSeparator()
    win.import_actions = {kind: act(win, m, text, lambda k=kind: win.import_dialog(k),
                                    shortcut, tip)
                          for kind, (text, shortcut, tip) in KINDS.items()}
    win._file_actions = {name: [] for name in win.workspaces}
    for name, ws in win.workspaces.items():
        # study imports are the window's (above); the rest (labels...) are the workspace's
        own = [a for a in ws.import_actions() if a.slot != ws.request_study_import]
        win._file_actions[name] += [act(win, m, *a) for a in own]
    act(win, m, "Import pretrained &weights…", win.import_weights,
        tip="Install torchvision's ImageNet AlexNet file (offline computers)")
    for name, ws in win.workspaces.items():
        win._file_actions[name] += [act(win, m, *a) for a in ws.export_actions()]
    m.addSeparator()
    act(win, m, "&Quit", win.close, QKeySequence.StandardKey.Quit)

    e = win.menuBar().addMenu("&Edit")
    win.undo_action = act(win, e, "&Undo", lambda: win._on_current("undo"),
                          QKeySequence.StandardKey.Undo)
    win.redo_action = act(win, e, "&Redo", lambda: win._on_current("redo"),
                          QKeySequence.StandardKey.Redo)

    v = win.menuBar().addMenu("&View")
    win.notices_action = win.notices_dock.toggleViewAction()
    win.notices_action.setText("&Notices")
    win.notices_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
    win.notices_action.setStatusTip("Every notice and warning of this session, with its time")
    v.addAction(win.notices_action)

    t = win.menuBar().addMenu("&Training")
    win.train_action = act(win, t, "&Train", win.train, "Ctrl+T",
                           "Start a run at the chosen depth")
    win.evaluate_action = act(win, t, "&Evaluate on test videos", win.evaluate, "Ctrl+E",
                              "ROC with 95% CIs of the newest run on the test videos")
    win.cancel_action = act(win, t, "&Cancel", win.cancel_jobs, "Esc",
                            "Stop training, evaluation or scoring; the best model is kept")
    t.addSeparator()
    win.score_action = act(win, t, "&Score every video with this run", win.score_all,
                           tip="Draw each video's strip with the newest run's best model")
    win.history_action = act(win, t, "Run &history…", win.show_run_history, "Ctrl+H",
                             "Every run with its settings, AUCs, time and device")
    from .window_experiments import add_experiments_ui

    add_experiments_ui(win, t)

    h = win.menuBar().addMenu("&Help")
    win.help_action = act(win, h, "&Keyboard shortcuts", win.help.toggle, ["F1", "?"],
                          "Show or hide the keys of the current tab (F1 or ?)")
    act(win, h, "&About LayerTune", win.about)
