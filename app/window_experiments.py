"""The main window's experiments: *Training › Experiments…*, a button beside Train, the
board of each task, and the leakage check before every run.

Wiring (one line in the menus, one in the window):

* ``MainWindow`` mixes in :class:`ExperimentsMixin`;
* in :func:`app.window_menus.build_menus`, after *Run history…*:
  ``add_experiments_ui(win, t)``;
* in ``MainWindow.closeEvent``: ``stopped.append(self.shutdown_experiments(10000))``.
"""

from __future__ import annotations

from PySide6.QtWidgets import QPushButton


class ExperimentsMixin:
    """One :class:`app.experiments.board.ExperimentBoardWidget` per task, made on first
    use. Needs the window's ``project``, ``workspaces``, ``current_workspace()`` and
    ``notify``."""

    _boards: dict

    def experiment_board(self, ws=None):
        """The board of ``ws`` (default: the current tab), made on first use; None when
        the workspace does not train."""
        from .experiments.board import ExperimentBoardWidget

        ws = ws if ws is not None else self.current_workspace()
        if ws is None or ws.training is None:
            return None
        boards = self.__dict__.setdefault("_boards", {})
        board = boards.get(ws.task_name)
        if board is None:
            board = boards[ws.task_name] = ExperimentBoardWidget(ws, self)
            board.message.connect(lambda text, level, ws=ws:
                                  self.notify(text, level, f"{ws.title} experiments"))
            board.experiment_finished.connect(lambda _eid, ws=ws: ws.reload())
        return board

    def show_experiments(self, ws=None) -> None:
        """Open (or raise) the experiments board of the current tab."""
        board = self.experiment_board(ws)
        if board is None:
            self.notify("this tab trains no model: experiments are run from a task's tab",
                        "warning")
            return
        if board.experiment_id is None:
            done = board.experiments()
            if done:
                board.show_experiment(done[-1].id)
        board.show()
        board.raise_()
        board.activateWindow()

    def experiments_running(self) -> bool:
        return any(b.is_running() for b in self.__dict__.get("_boards", {}).values())

    def shutdown_experiments(self, timeout_ms: int = 5000) -> bool:
        """Cancel every board's queue and wait (closing the window); False if one is still
        stopping. A cancelled queue resumes at the run where it stopped."""
        ok = True
        for b in self.__dict__.get("_boards", {}).values():
            ok = b.shutdown(timeout_ms) and ok
            if ok:
                b.close()
        return ok


def add_experiments_ui(win, training_menu) -> None:
    """*Training › Experiments…* (Ctrl+Shift+X), an *Experiments…* button beside each
    training panel's Train button, and the leakage check before each Train."""
    from .window_menus import add_action

    if getattr(win, "experiments_action", None) is not None:
        return  # already there
    win.experiments_action = add_action(
        win, training_menu, "E&xperiments…", win.show_experiments, "Ctrl+Shift+X",
        "Depth sweep, reduced data, convergence, label budget: queues of runs, compared")
    for ws in win.workspaces.values():
        panel = ws.training
        if panel is None:
            continue
        button = QPushButton("Experiments…")
        button.setObjectName("experiments_button")
        button.setToolTip("Run a depth sweep, reduced data, convergence or label-budget "
                          "experiment with these settings (Ctrl+Shift+X)")
        button.clicked.connect(lambda _c=False, ws=ws: win.show_experiments(ws))
        _place_beside_train(panel, button)
        panel.experiments_button = button
        c = win.controllers.get(ws.task_name)
        if c is not None:
            _gate_training(win, ws, c)


def _place_beside_train(panel, button) -> None:
    group = panel.train_button.parentWidget()
    lay = group.layout() if group is not None else None
    if lay is not None:
        for i in range(lay.count()):
            sub = lay.itemAt(i).layout()
            if sub is not None and sub.indexOf(panel.train_button) >= 0:
                lay.insertWidget(i + 1, button)  # its own row: the Train row is narrow
                return
        lay.addWidget(button)


def _gate_training(win, ws, controller) -> None:
    """Run the leakage check before the controller starts a run (issue 10: "before any
    run"); a run the user declines is not started."""
    from .experiments.leakage import confirm_no_leakage

    panel = ws.training
    try:
        panel.train_requested.disconnect(controller.start_training)
    except (RuntimeError, TypeError):
        return  # not connected the usual way: leave the controller alone

    def start(config, ws=ws, controller=controller) -> None:
        if controller.is_running():
            return
        if confirm_no_leakage(win, ws.project, ws.task_name):
            controller.start_training(config)
        else:
            win.notify("run not started: fix the split first", "info", ws.title)

    panel.train_requested.connect(start)
