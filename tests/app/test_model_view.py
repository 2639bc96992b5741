"""The model's opinion in the Frame-quality workspace (issue 6: items 4 and 28): the run's
validation threshold decides disagreements and the caption, the strip colours by rank
with a legend, and test videos hide the model's opinion while labelling and flag test
labels edited after an evaluation."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from app.main_window import MainWindow
from app.widgets.probability_strip import probability_rgb, rank_positions
from core.store import Project


@pytest.fixture
def project(demo_folder, tmp_path):
    folder = tmp_path / "project"
    shutil.copytree(demo_folder, folder)
    p = Project.open(folder)
    yield p
    p.close()


def _open(qtbot, project, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    win = MainWindow(project)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    return win, win.workspaces["frame_quality"]


def _run(project, metrics: dict, scores: dict[int, np.ndarray]) -> int:
    """A finished run with stored per-frame probabilities (no training needed)."""
    run = project.start_run("frame_quality", "fc8", {})
    for sid, probs in scores.items():
        project.put_scores(run.id, sid, np.arange(len(probs)), probs)
    project.finish_run(run.id, "finished", best_auc=0.9, metrics=metrics)
    return run.id


def _probs(n: int) -> np.ndarray:
    """Probabilities crowded around 0.3 (a well-ranking, badly calibrated model)."""
    return 0.25 + 0.1 * (np.arange(n) % 10) / 9


def _pixel(widget, x: int, y: int) -> tuple[int, int, int]:
    c = widget.grab().toImage().pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def test_rank_positions_put_the_threshold_at_the_middle():
    pos = rank_positions(np.array([0.26, 0.29, 0.31, 0.34, 0.31]), 0.3)
    assert (pos[:2] < 0.5).all() and (pos[2:] > 0.5).all()
    assert pos[0] < pos[1] and pos[2] < pos[3] and pos[2] == pos[4]


def test_threshold_from_validation_decides_caption_disagreements_and_colours(
        qtbot, project, monkeypatch, tmp_path):
    train = [s for s in project.studies("frame_quality") if s.split == "train"][0]
    probs = _probs(train.n_frames)
    run_id = _run(project, {"threshold": {"rule": "youden_j_validation", "value": 0.3}},
                  {train.id: probs})
    win, ws = _open(qtbot, project, monkeypatch, tmp_path)
    ws.select_study(train.id)
    assert ws.threshold() == (0.3, f"Youden's J on validation, run {run_id}")
    # The caption names the threshold and the side the frame falls on.
    f_hi = int(np.flatnonzero(probs > 0.32)[0])
    ws.show_frame(f_hi)
    assert f"model: {probs[f_hi]:.2f} (above threshold 0.30)" in ws.viewer.caption.toPlainText()
    f_lo = int(np.flatnonzero(probs < 0.28)[0])
    ws.show_frame(f_lo)
    assert f"model: {probs[f_lo]:.2f} (below threshold 0.30)" in ws.viewer.caption.toPlainText()
    # Disagreements at 0.3, not 0.5: an informative frame at p 0.34 agrees.
    labels = {lab.frame: lab.value for lab in project.labels(train.id)}
    expected = sum(1 for f, v in labels.items() if (probs[f] >= 0.3) != (v == "informative"))
    assert ws.disagreements.count() == expected
    at_half = sum(1 for f, v in labels.items() if (probs[f] >= 0.5) != (v == "informative"))
    assert expected != at_half
    assert "at threshold 0.30" in ws.disagreements.header_text()
    assert "Youden's J" in ws.disagreements.header_text()
    # The legend names the rule and the range; the colours show rank, not 0.5 everywhere.
    assert "threshold 0.30" in ws.legend.head() and "Youden" in ws.legend.head()
    assert ws.legend.low.text().endswith(f"{probs.min():.2f}")
    assert ws.legend.high.text() == f"{probs.max():.2f}"
    y = ws.strip._TICK_H + ws.strip._GAP + ws.strip._BAR_H // 2
    low = _pixel(ws.strip, int(ws.strip.x_for_frame(20)), y)  # p 0.25, the lowest
    high = _pixel(ws.strip, int(ws.strip.x_for_frame(29)), y)  # p 0.35, the highest
    assert low[0] > 150 and low[1] < 120  # red
    assert high[1] > 120 and high[0] < 100  # green
    assert tuple(probability_rgb(np.array(0.25))) != low  # not the probability scale
    qtbot.wait(50)


def test_without_a_validation_threshold_0_5_is_named_as_such(qtbot, project, monkeypatch,
                                                               tmp_path):
    train = [s for s in project.studies("frame_quality") if s.split == "train"][0]
    _run(project, {}, {train.id: _probs(train.n_frames)})
    win, ws = _open(qtbot, project, monkeypatch, tmp_path)
    ws.select_study(train.id)
    assert ws.threshold() == (0.5, "0.5 (no validation threshold)")
    assert "0.5 (no validation threshold)" in ws.legend.head()
    ws.show_frame(0)
    assert "(below threshold 0.50)" in ws.viewer.caption.toPlainText()


def test_test_video_hides_the_model_unless_reviewing_and_flags_edits_after_evaluation(
        qtbot, project, monkeypatch, tmp_path):
    test = [s for s in project.studies("frame_quality") if s.split == "test"][0]
    probs = _probs(test.n_frames)
    run_id = _run(project, {"threshold": {"rule": "youden_j_validation", "value": 0.3},
                            "test": {}, "test_settings": {"studies": [test.id]}},
                  {test.id: probs})
    win, ws = _open(qtbot, project, monkeypatch, tmp_path)
    said: list[str] = []
    ws.message.connect(said.append)
    ws.select_study(test.id)
    ws.show_frame(3)
    assert ws.strip.probability_at(3) is None  # the strip is grey
    assert "model" not in ws.viewer.caption.toPlainText()
    assert ws.disagreements.count() == 0 and "hidden" in ws.disagreements.header_text()
    assert "hidden" in ws.legend.head()
    assert ws.test_warning.isHidden()
    qtbot.wait(50)
    ws.review_test.setChecked(True)
    qtbot.wait(50)
    assert ws.strip.probability_at(3) == pytest.approx(probs[3], abs=1e-6)
    assert "model:" in ws.viewer.caption.toPlainText()
    assert "hidden" not in ws.disagreements.header_text()
    ws.review_test.setChecked(False)
    # Edit a test label after the evaluation: flagged on that evaluation.
    ws.advance.setChecked(False)
    old = project.label(test.id, 3)
    other = "informative" if old is None or old.value != "informative" else "non-informative"
    ws.set_label(other)
    assert not ws.test_warning.isHidden()
    assert f"1 test label changed since run {run_id}'s evaluation" in ws.test_warning.text()
    assert any("test label changed" in m for m in said)
    # Putting the evaluated label back clears the flag; a reopened project still counts.
    ws.set_label(None if old is None else old.value)
    assert ws.test_warning.isHidden()
    ws.set_label(other)
    ws.show_frame(5)
    had5 = project.label(test.id, 5) is not None
    ws.set_label(None)
    expected = 1 + had5
    assert ws.changed_test_labels() == expected
    win.close()  # closes the project too
    project = Project.open(project.folder)
    win2, ws2 = _open(qtbot, project, monkeypatch, tmp_path)  # from the label history
    assert ws2.changed_test_labels() == expected
    noun = "test label" if expected == 1 else "test labels"
    assert f"{expected} {noun} changed since run {run_id}'s evaluation" in \
        ws2.test_warning.text()
    # Training videos are never hidden nor flagged.
    train = [s for s in project.studies("frame_quality") if s.split == "train"][0]
    ws2.select_study(train.id)
    assert not ws2.model_hidden()


def test_a_past_run_shown_again_keeps_its_own_threshold(qtbot, project, monkeypatch,
                                                        tmp_path):
    from core.events import Scored

    train = [s for s in project.studies("frame_quality") if s.split == "train"][0]
    probs = _probs(train.n_frames)
    old = _run(project, {"threshold": {"rule": "youden_j_validation", "value": 0.3}},
               {train.id: probs})
    new = _run(project, {"threshold": {"rule": "youden_j_validation", "value": 0.4}},
               {train.id: 1 - probs})
    win, ws = _open(qtbot, project, monkeypatch, tmp_path)
    ws.select_study(train.id)
    assert ws.threshold()[0] == pytest.approx(0.4) and f"run {new}" in ws.threshold()[1]
    frames, stored = project.scores(old, train.id)
    ws.show_prediction(Scored("strip", frames, np.stack([1 - stored, stored], 1), -1))
    assert ws.threshold()[0] == pytest.approx(0.3) and f"run {old}" in ws.threshold()[1]
    ws.reload()  # e.g. after background scoring: the shown run stays
    assert f"run {old}" in ws.threshold()[1]
    assert ws.strip.probability_at(20) == pytest.approx(probs[20], abs=1e-6)
