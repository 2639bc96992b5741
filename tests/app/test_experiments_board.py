"""The experiments board: results of a (constructed) depth sweep, live queue events,
exports, the window's wiring and the leakage gate.

Runs are recorded in a real project with real statistics (``roc_analysis`` of made-up
scores on the demo's real test frames) so that no test trains a network, except the one
marked slow, which runs a two-run sweep end to end.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from core.events import BatchEnd, Validated
from core.stats import roc_analysis
from core.tasks import get_task


def make_run(project, experiment_id, depth, scores_of, *, layer_change=None, seed=0):
    """Record a finished run whose test predictions are ``scores_of(labels, rng)``."""
    t = get_task("frame_quality")
    items = t.labelled_items(project, "test")
    rng = np.random.default_rng(seed)
    pos = np.isin(items.labels, t.positive).astype(int)
    s = np.clip(scores_of(pos, rng), 0, 1)
    res = roc_analysis(s, pos, n_boot=200, rng=rng, groups=items.study_ids)
    run = project.start_run("frame_quality", depth, {"epochs": 2, "init": "caffe"},
                            experiment_id=experiment_id, seed=0)
    for sid, where in items.by_study().items():
        p = s[where]
        project.put_predictions(run.id, "test", sid, "frame", items.indices[where],
                                np.stack([1 - p, p], 1))
        project.put_predictions(run.id, "preview", sid, "frame", items.indices[where],
                                np.stack([1 - p, p], 1))
    history = [{"epoch": e, "iteration": 10 * (e + 1), "train_loss": 0.7 - 0.1 * e,
                "val_auc": 0.6 + 0.1 * e + 0.01 * seed} for e in range(2)]
    metrics = {"history": history, "test": res.to_dict(), "threshold": {"value": 0.5},
               "layer_change": layer_change or [], "images_per_s": 123.0,
               "train_time_s": 42.0}
    snap = project.folder / f"fake-{run.id}.pt"
    snap.write_bytes(b"")
    project.finish_run(run.id, "finished", best_auc=history[-1]["val_auc"],
                       best_snapshot=snap, metrics=metrics)
    return project.run(run.id), pos


@pytest.fixture
def sweep(window_on, demo_folder, monkeypatch, tmp_path):
    """The window (with the experiments UI) on a project holding a 3-depth sweep: fc8
    nearly perfect, fc7 as good, scratch at chance."""
    from app.experiments import leakage
    from app.window_experiments import add_experiments_ui

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setattr(leakage, "answer", lambda warnings: True)
    win = window_on(demo_folder)
    menu = [a.menu() for a in win.menuBar().actions() if a.text() == "&Training"][0]
    add_experiments_ui(win, menu)  # wired by the window already: a second call adds nothing
    assert sum(a.text() == "E&xperiments…" for a in menu.actions()) == 1
    p = win.project
    ex = p.add_experiment("depth", "frame_quality", {"kind": "depth", "runs": []})
    good = lambda y, rng: y * 0.6 + rng.uniform(0, 0.4, y.size)  # noqa: E731
    chance = lambda y, rng: rng.uniform(0, 1, y.size)  # noqa: E731
    lc = [{"fc7": 0.01, "fc8": 0.2}, {"fc7": 0.02, "fc8": 0.3}]
    runs = [make_run(p, ex.id, "fc8", good, layer_change=lc, seed=1)[0],
            make_run(p, ex.id, "fc7", good, seed=2)[0],
            make_run(p, ex.id, "scratch", chance, seed=3)[0]]
    p.set_experiment_status(ex.id, "finished")
    return win, ex, runs


def test_board_shows_results_of_a_sweep(qtbot, sweep, tmp_path):
    win, ex, runs = sweep
    win.show_experiments()
    board = win.experiment_board()
    qtbot.waitExposed(board)
    res = board.results
    assert [r.run_id for r in res.runs] == [r.id for r in runs]
    # the statistics come from a background job: the GUI thread is not held
    qtbot.waitUntil(lambda: bool(res.tables) and res.advice is not None, timeout=30000)
    assert not res.statistics_running() or res.advice is not None
    # the figure: one ROC per run, CSV rows for curves and operating points
    assert res.figure.kind == "roc" and len(res.figure.runs) == 3
    kinds = {row[1] for row in res.figure.rows}
    assert {"curve", "point"} <= kinds
    # the runs table: AUC, CI, sensitivities at the operating points, time, images/s
    assert res.runs_table.rowCount() == 3
    head = res.runs_table.head
    assert "AUC" in head and any(h.startswith("sens @ 10") for h in head)
    assert res.runs_table.rows[0][-2] == "123"
    # pairwise DeLong: scratch (chance) differs from fc8 (good); fc8 vs fc7 is symmetric
    t = res.tables[0]
    assert "DeLong" in t.test
    i8, i7, isc = (next(i for i, lb in enumerate(t.labels) if lb.split()[0] == n)
                   for n in ("fc8", "fc7", "scratch"))
    assert t.p[i8, isc] < 0.05 and t.significant(isc, i8)
    assert t.p[i8, i7] == pytest.approx(t.p[i7, i8])
    cell = res.pair_table.item(i8, isc + 1).text()
    assert cell.endswith("*")
    # the recommendation: the shallowest depth as good as the best, never scratch
    assert res.advice.depth in ("fc8", "fc7")
    assert res.advice.evidence and "Use" in res.advice.sentence
    # exports
    png, svg, csv_path = (tmp_path / f"fig.{s}" for s in ("png", "svg", "csv"))
    for f in (png, svg, csv_path):
        res.figure.export(f)
        assert f.stat().st_size > 100
    assert png.read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.reader(open(csv_path, encoding="utf-8")))
    assert rows[0] == ["run", "kind", "x", "y", "ci_low", "ci_high"] and len(rows) > 10
    tables = res.export_tables(tmp_path / "tables.csv")
    text = tables.read_text(encoding="utf-8")
    assert "DeLong" in text and "scratch" in text
    with pytest.raises(ValueError):
        res.figure.export(tmp_path / "fig.jpg")


def test_layer_change_is_drawn_on_the_stack(qtbot, sweep):
    from app.experiments.layer_inspector import bar_fraction

    win, ex, runs = sweep
    board = win.experiment_board()
    board.show_experiment(ex.id)
    lay = board.results.layers
    assert lay.run_box.currentData() == runs[0].id  # the first run that recorded it
    assert lay.canvas.values == {"fc7": 0.02, "fc8": 0.3}  # the last epoch
    lay.epoch.setValue(0)
    assert lay.canvas.values["fc8"] == 0.2
    assert "fc7 moved" in lay.note.text()
    assert bar_fraction(1e-6) == 0 and bar_fraction(1.0) == 1
    assert 0 < bar_fraction(0.01) < bar_fraction(0.3) < 1


def test_flip_review_writes_labels_with_one_key(qtbot, sweep):
    from PySide6.QtCore import Qt

    win, ex, runs = sweep
    board = win.experiment_board()
    board.show_experiment(ex.id)
    flips = board.results.flips
    flips.reload_runs(runs[0].id, runs[2].id)  # good model -> chance model: many flips
    assert flips.flips and flips.list.count() == len(flips.flips)
    first = flips.flips[0]
    flips.list.setFocus()
    qtbot.keyClick(flips.list, Qt.Key.Key_A)  # accept the new decision
    expected = "informative" if first.positive_after else "non-informative"
    assert win.project.label(first.study_id, first.item).value == expected
    assert flips.list.currentRow() == 1
    second = flips.flips[1]
    qtbot.keyClick(flips.list, Qt.Key.Key_R)  # keep the previous decision
    kept = "non-informative" if second.positive_after else "informative"
    assert win.project.label(second.study_id, second.item).value == kept


def test_flip_review_says_when_the_runs_scored_nothing_in_common(qtbot, sweep):
    win, ex, runs = sweep
    p = win.project
    board = win.experiment_board()
    board.show_experiment(ex.id)
    flips = board.results.flips
    flips.reload_runs(runs[0].id, runs[1].id)
    assert "items scored by both" in flips.summary.text() or flips.flips
    # a run trained from the command line has scored no study
    cli_run = p.start_run("frame_quality", "fc6", {"epochs": 1}, experiment_id=ex.id, seed=0)
    snap = p.folder / f"fake-{cli_run.id}.pt"
    snap.write_bytes(b"")
    p.finish_run(cli_run.id, "finished", best_auc=0.7, best_snapshot=snap, metrics={})
    flips.reload_runs(runs[0].id, cli_run.id)
    assert not flips.flips and "have not both scored a study" in flips.summary.text()


def test_disagreement_queue_puts_split_votes_first(qtbot, sweep):
    win, ex, runs = sweep
    board = win.experiment_board()
    board.show_experiment(ex.id)
    dq = board.results.disagreement
    dq.unlabelled.setChecked(False)  # the demo's test frames are all labelled
    assert dq.rows
    ent = [d.vote_entropy for d in dq.rows]
    assert ent == sorted(ent, reverse=True)
    assert dq.rows[0].n_models == 3 and 0 < dq.rows[0].n_positive < 3
    dq.unlabelled.setChecked(True)
    assert dq.rows == []  # every scored frame is labelled


def test_queue_events_drive_the_bars_and_curves(qtbot, sweep):
    from core.experiments import QueueEvent
    from core.jobs import RunStarted

    win, ex, runs = sweep
    board = win.experiment_board()
    board._on_event(QueueEvent(ex.id, 0, 3, "fc8", "started", None, "fc8"))
    board._on_event(RunStarted(99, "fc8", "test weights"))
    board._on_event(tuple(BatchEnd(0, i, 0.7 - i / 100, 0.01, 50.0, i, 10, 1.0)
                          for i in range(1, 4)))
    board._on_event(Validated(0, 3, 0.8, 0.5, True, 0.8))
    assert "run 1 of 3" in board.queue_bar.format()
    assert "fc8" in board.run_bar.format() and board.run_bar.value() == 3
    board.curves.flush()
    assert board.curves.n_points(99) == (1, 3)
    board._on_event(QueueEvent(ex.id, 0, 3, "fc8", "finished", 99, "best AUC 0.8"))
    assert board.queue_bar.value() == 1


def test_window_wiring_and_leakage_gate(qtbot, sweep, monkeypatch):
    from app.experiments import leakage

    win, ex, runs = sweep
    ws = win.workspaces["frame_quality"]
    assert ws.training.experiments_button.text() == "Experiments…"
    assert win.experiments_action.shortcut().toString() == "Ctrl+Shift+X"
    ws.training.experiments_button.click()
    board = win.experiment_board()
    assert board.isVisible() and board.past.count() == 1
    # a leakage warning the user declines: nothing is started, nothing stored
    seen = []
    monkeypatch.setattr("app.experiments.api.leakage_warnings",
                        lambda project, task: ["a subject is on both sides"])
    monkeypatch.setattr(leakage, "answer", lambda w: seen.append(w) or False)
    n = len(win.project.experiments())
    assert board.start("depth") is False
    assert seen == [["a subject is on both sides"]]
    assert len(win.project.experiments()) == n and not board.is_running()
    # and Train on the panel is gated the same way
    ws.training.train_button.click()
    assert len(seen) == 2 and not win.controllers["frame_quality"].is_running()
    assert win.shutdown_experiments(5000)


def test_bad_input_is_refused_with_the_reason(qtbot, sweep, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    win, ex, runs = sweep
    board = win.experiment_board()
    said = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: said.append(a[2]))
    board.extra_options["depth"] = {"depths": ["fc9"]}
    n = len(win.project.experiments())
    try:
        assert board.start("depth") is False
    finally:
        board.shutdown(10000)
    assert said and "fc9" in said[0] and "unchanged" in said[0]
    assert "fc9" in board.status.text()
    assert len(win.project.experiments()) == n


@pytest.mark.slow
def test_one_click_depth_sweep_end_to_end(qtbot, sweep, tmp_path):
    """Two tiny runs (fc8, fc7; 1 epoch) queued, trained, evaluated and shown."""
    import torch
    import torchvision

    from core.train.weights import install_weights

    f = tmp_path / "alexnet.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), f)
    install_weights(f)
    win, ex, runs = sweep
    ws = win.workspaces["frame_quality"]
    ws.training.epochs.setValue(1)
    ws.training.crops.setValue(1)
    board = win.experiment_board()
    board.extra_options["depth"] = {"depths": ["fc8", "fc7"]}
    assert board.start("depth")
    qtbot.waitUntil(lambda: not board.is_running(), timeout=600_000)
    e = win.project.experiment(board.experiment_id)
    assert e.status == "finished" and len(e.runs) == 2
    # the thread has ended; its "returned" signal is handled next on the GUI thread
    qtbot.waitUntil(lambda: len(board.results.runs) == 2, timeout=10_000)
    assert board.results.figure.runs
    assert len(board.curves.runs) == 2


def test_label_budget_tab_fits_off_the_gui_thread_and_answers_the_target(qtbot, sweep):
    """A budget experiment (AUC rising with labels): the tab draws the runs with CIs, the
    fitted curve and its band, and says how many labels reach the typed target."""
    import pyqtgraph as pg

    win, _, _ = sweep
    p = win.project
    ex = p.add_experiment("budget", "frame_quality", {
        "kind": "budget", "task": "frame_quality", "runs": [],
        "target": {"metric": "auc", "value": 0.8}})
    rng = np.random.default_rng(5)
    for n_items, sep in ((20, 0.4), (50, 0.9), (100, 1.2), (200, 1.4)):
        y = rng.integers(0, 2, 300)
        res = roc_analysis(sep * y + rng.normal(0, 1, 300), y, n_boot=0)
        run = p.start_run("frame_quality", "fc8", {"n_items": n_items, "init": "caffe"},
                          experiment_id=ex.id, seed=0)
        p.finish_run(run.id, "finished", metrics={"test": res.to_dict()})
    board = win.experiment_board()
    board.show_experiment(ex.id)
    res = board.results
    qtbot.waitUntil(lambda: not res.statistics_running() and bool(res.budget.groups),
                    timeout=60_000)
    (name,) = res.budget.groups
    d = res.budget.groups[name]
    assert list(d["n"]) == [20, 50, 100, 200] and d["metric"] == "AUC"
    assert res.budget.fits[name] is not None  # the job's fit, not refitted here
    assert res.budget.target.value() == pytest.approx(0.8)
    items = res.budget.plot.getPlotItem().items
    assert any(isinstance(i, pg.FillBetweenItem) for i in items)  # the band
    assert any(isinstance(i, pg.ErrorBarItem) for i in items)  # the runs' CIs
    text = res.budget.answer.text()
    got = res.budget.needed(name)
    assert got.reachable and f"about {got.estimate:,.0f} labels to reach 0.8" in text
    res.budget.target.setValue(0.999)  # above what the curve levels off at
    assert "not reachable" in res.budget.answer.text()
