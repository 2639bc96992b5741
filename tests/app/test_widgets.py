"""The reusable widgets of app/widgets, driven as a user would (pytest-qt)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QDoubleSpinBox, QWidget

from app.widgets.depth_stack import DepthStackWidget
from app.widgets.disagreement_list import DisagreementListWidget
from app.widgets.help_overlay import HelpOverlayWidget
from app.widgets.probability_strip import (
    DEFAULT_LABEL_COLORS,
    NO_SCORE_RGB,
    ProbabilityStripWidget,
    probability_rgb,
)
from app.widgets.training_curves import TrainingCurvesWidget
from core.train import model as core_model
from core.train.model import DEPTHS, LAYERS

# ------------------------------------------------------------------ depth stack


@pytest.fixture
def depth_stack(qtbot):
    w = DepthStackWidget(depth="fc8")
    qtbot.addWidget(w)
    w.resize(380, w.sizeHint().height())
    w.show()
    qtbot.waitExposed(w)
    return w


def _canvas(w: DepthStackWidget) -> QWidget:
    return w.findChild(QWidget, "layer_stack")


def _assert_same_schedule(a: core_model.Schedule, b: core_model.Schedule) -> None:
    assert a.depth == b.depth
    assert a.momentum == b.momentum and a.gamma == b.gamma
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert (la.layer, la.tuned, la.weight_lr, la.bias_lr) == (
            lb.layer,
            lb.tuned,
            lb.weight_lr,
            lb.bias_lr,
        )


@pytest.mark.parametrize("layer", LAYERS)
def test_clicking_a_block_sets_depth_and_emits_table_ii(qtbot, depth_stack, layer):
    w = depth_stack
    if layer == "fc8":  # already the depth: start elsewhere so the click changes it
        w.set_depth("conv2")
    canvas = _canvas(w)
    with (
        qtbot.waitSignal(w.schedule_changed) as sched_sig,
        qtbot.waitSignal(w.depth_changed) as depth_sig,
    ):
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.block_rect(layer).center())
    assert w.depth() == layer
    assert depth_sig.args == [layer]
    _assert_same_schedule(sched_sig.args[0], core_model.schedule(layer))
    _assert_same_schedule(w.schedule(), core_model.schedule(layer))
    # The block really is "this layer and everything above it".
    assert w.schedule().tuned_layers == LAYERS[LAYERS.index(layer) :]


def test_keyboard_moves_depth(qtbot, depth_stack):
    w = depth_stack
    w.set_depth("fc6")
    canvas = _canvas(w)
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Down)  # one layer deeper into the network
    assert w.depth() == "conv5"
    qtbot.keyClick(canvas, Qt.Key.Key_Up)
    qtbot.keyClick(canvas, Qt.Key.Key_Up)
    assert w.depth() == "fc7"
    qtbot.keyClick(canvas, Qt.Key.Key_End)
    assert w.depth() == DEPTHS[-1] == "scratch"


def test_editing_fc8_rate_is_kept_across_depths_until_reset(qtbot, depth_stack):
    w = depth_stack
    w.set_depth("conv4")
    fc8 = w.findChild(QDoubleSpinBox, "fc8_lr")
    fc8.lineEdit().selectAll()
    qtbot.keyClicks(fc8.lineEdit(), "0.02")
    with qtbot.waitSignal(w.schedule_changed) as sig:
        qtbot.keyClick(fc8.lineEdit(), Qt.Key.Key_Return)
    s = w.schedule()
    assert s.layer("fc8").weight_lr == pytest.approx(0.02)
    assert s.layer("fc8").bias_lr == pytest.approx(0.04)
    assert s.layer("conv4").weight_lr == pytest.approx(0.001)
    assert sig.args[0].layer("fc8").weight_lr == pytest.approx(0.02)
    # Rates can be typed in scientific notation.
    base = w.findChild(QDoubleSpinBox, "base_lr")
    base.lineEdit().selectAll()
    qtbot.keyClicks(base.lineEdit(), "5e-4")
    qtbot.keyClick(base.lineEdit(), Qt.Key.Key_Return)
    assert w.schedule().layer("conv4").weight_lr == pytest.approx(5e-4)
    assert w.schedule().layer("conv4").bias_lr == pytest.approx(1e-3)
    # An edited fc8 rate no longer follows the depth ...
    w.set_depth("scratch")
    assert w.schedule().layer("fc8").weight_lr == pytest.approx(0.02)
    # ... until Table II is restored.
    qtbot.mouseClick(w.findChild(QWidget, "reset"), Qt.MouseButton.LeftButton)
    _assert_same_schedule(w.schedule(), core_model.schedule("scratch"))
    assert fc8.value() == pytest.approx(0.001)


def test_unedited_fc8_rate_follows_depth_and_base_rate(qtbot, depth_stack):
    w = depth_stack
    fc8 = w.findChild(QDoubleSpinBox, "fc8_lr")
    w.set_depth("conv1")
    assert fc8.value() == pytest.approx(0.01)
    w.set_depth("scratch")
    assert fc8.value() == pytest.approx(0.001)
    w.set_depth("fc7")
    w.findChild(QDoubleSpinBox, "base_lr").setValue(0.002)
    w.findChild(QDoubleSpinBox, "momentum").setValue(0.8)
    _assert_same_schedule(w.schedule(), core_model.schedule("fc7", base_lr=0.002, momentum=0.8))
    assert fc8.value() == pytest.approx(0.02)


def test_scratch_enables_init_and_returns_to_last_depth(qtbot, depth_stack):
    w = depth_stack
    w.set_depth("conv3")
    scratch = w.findChild(QCheckBox, "scratch")
    init = w.findChild(QComboBox, "init")
    assert not init.isEnabled()
    qtbot.mouseClick(scratch, Qt.MouseButton.LeftButton)
    assert w.depth() == "scratch" and init.isEnabled()
    _assert_same_schedule(w.schedule(), core_model.schedule("scratch"))
    init.setCurrentText("msra")
    assert w.init() == "msra"
    qtbot.mouseClick(scratch, Qt.MouseButton.LeftButton)
    assert w.depth() == "conv3" and not init.isEnabled()
    # Clicking a block while training from scratch switches back to fine-tuning.
    w.set_depth("scratch")
    canvas = _canvas(w)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.block_rect("fc6").center())
    assert w.depth() == "fc6" and not scratch.isChecked()


def test_disabled_stack_ignores_clicks_and_bad_depth_is_refused(qtbot, depth_stack):
    w = depth_stack
    w.setEnabled(False)
    canvas = _canvas(w)
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.block_rect("conv1").center())
    assert w.depth() == "fc8"
    with pytest.raises(ValueError, match="conv1"):
        w.set_depth("pool5")


def test_set_schedule_round_trips(qtbot, depth_stack):
    w = depth_stack
    s = core_model.schedule(
        "conv2", base_lr=0.003, fc8_lr=0.05, bias_factor=1.5, momentum=0.8, gamma=0.9
    )
    w.set_schedule(s)
    _assert_same_schedule(w.schedule(), s)
    w.set_schedule(core_model.schedule("fc7"))
    _assert_same_schedule(w.schedule(), core_model.schedule("fc7"))


# ------------------------------------------------------------- probability strip


def _strip(qtbot, n: int, width: int = 400) -> ProbabilityStripWidget:
    w = ProbabilityStripWidget(fill_gap=2)
    qtbot.addWidget(w)
    w.set_n_frames(n)
    w.resize(width, w.sizeHint().height())
    w.show()
    qtbot.waitExposed(w)
    return w


def _pixel(img, x: int, y: int) -> tuple[int, int, int]:
    c = QColor(img.pixel(x, y))
    return c.red(), c.green(), c.blue()


def _bar_y(w: ProbabilityStripWidget) -> int:
    return w._TICK_H + w._GAP + w._BAR_H // 2


def test_strip_click_and_drag_map_x_to_frame(qtbot):
    w = _strip(qtbot, n=100, width=400)  # 4 pixels per frame
    with qtbot.waitSignal(w.frame_requested) as sig:
        qtbot.mouseClick(w, Qt.MouseButton.LeftButton, pos=QPoint(4 * 37 + 2, _bar_y(w)))
    assert sig.args == [37]
    # A drag reports each new frame under the pointer.
    seen: list[int] = []
    w.frame_requested.connect(seen.append)
    for x in (10, 11, 30, 399):
        ev = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(x, 8),
            QPointF(x, 8),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(w, ev)
    assert seen == [2, 7, 99]
    assert w.frame_at(-50) == 0 and w.frame_at(10_000) == 99


def test_strip_scores_colour_the_right_pixels(qtbot):
    w = _strip(qtbot, n=100, width=400)
    w.set_scores(np.array([50, 10]), np.array([1.0, 0.0]))
    img = w.grab().toImage()
    y = _bar_y(w)
    red = tuple(probability_rgb(np.array(0.0)))
    green = tuple(probability_rgb(np.array(1.0)))
    assert _pixel(img, 4 * 10 + 2, y) == red
    assert _pixel(img, 4 * 12 + 2, y) == red  # filled: within the 2-frame gap
    assert _pixel(img, 4 * 8 + 2, y) == red
    assert _pixel(img, 4 * 13 + 2, y) == NO_SCORE_RGB  # beyond the gap
    assert _pixel(img, 4 * 30 + 2, y) == NO_SCORE_RGB
    assert _pixel(img, 4 * 50 + 2, y) == green
    assert w.probability_at(12) == 0.0 and w.probability_at(13) is None
    w.clear_scores()
    assert _pixel(w.grab().toImage(), 4 * 50 + 2, y) == NO_SCORE_RGB
    with pytest.raises(ValueError):
        w.set_scores(np.array([100]), np.array([0.5]))


def test_strip_labels_draw_ticks_and_cursor_moves(qtbot):
    w = _strip(qtbot, n=100, width=400)
    w.set_label(20, "informative")
    w.set_labels({20: "informative", 60: "non-informative"})
    img = w.grab().toImage()
    assert _pixel(img, 4 * 20 + 1, 2) == DEFAULT_LABEL_COLORS["informative"]
    assert _pixel(img, 4 * 60 + 1, 2) == DEFAULT_LABEL_COLORS["non-informative"]
    w.set_label(20, None)
    assert _pixel(w.grab().toImage(), 4 * 20 + 1, 2) != DEFAULT_LABEL_COLORS["informative"]
    y = _bar_y(w)
    before = _pixel(w.grab().toImage(), 4 * 70 + 2, y)
    w.set_current(70)
    assert w.current() == 70
    assert _pixel(w.grab().toImage(), 4 * 70 + 2, y) != before  # the cursor line


def test_strip_handles_100k_frames_by_column_means(qtbot):
    n = 100_000
    w = _strip(qtbot, n=n, width=500)  # 200 frames per pixel
    frames = np.arange(n)
    w.set_scores(frames, (frames >= n // 2).astype(float))
    img = w.grab().toImage()
    y = _bar_y(w)
    assert _pixel(img, 100, y) == tuple(probability_rgb(np.array(0.0)))
    assert _pixel(img, 400, y) == tuple(probability_rgb(np.array(1.0)))


# --------------------------------------------------------------- training curves


def test_curves_take_1000_batches_quickly_and_mark_best(qtbot):
    w = TrainingCurvesWidget()
    qtbot.addWidget(w)
    w.set_title("frame quality · conv1")
    w.resize(800, 300)
    w.show()
    t0 = time.perf_counter()
    for i in range(1000):
        w.add_batch(i, 1.0 / (1 + i))
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0  # appending only writes a buffer; drawing waits for the timer
    # The throttled redraw happens without an explicit flush.
    qtbot.waitUntil(lambda: w.plotted("batch")[0].size == 1000, timeout=2000)
    w.add_validation(499, 0, 0.8, is_best=True)
    w.add_validation(999, 1, 0.75, is_best=False)
    w.flush()
    ex, ey = w.plotted("epoch")
    assert list(ex) == [499, 999]
    assert ey[0] == pytest.approx(np.mean(1.0 / (1 + np.arange(500))))
    assert ey[1] == pytest.approx(np.mean(1.0 / (1 + np.arange(500, 1000))))
    assert w.best() == (499, 0, 0.8)
    ax, _ = w.plotted("auc")
    assert list(ax) == [1, 2]  # epochs counted from 1, as every message counts them
    assert "epoch 1" in w.best_title()
    w.set_auc_axis("iteration")
    ax, _ = w.plotted("auc")
    assert list(ax) == [499, 999]
    w.clear()
    assert w.n_batches() == 0 and w.best() is None
    assert w.plotted("batch")[0].size == 0


# ------------------------------------------------------------ disagreement list


def test_disagreement_list_sorts_filters_and_activates(qtbot):
    w = DisagreementListWidget()
    qtbot.addWidget(w)
    w.resize(320, 240)
    w.show()
    qtbot.waitExposed(w)
    w.set_items(
        [
            (5, "informative", 0.40),  # disagrees by 0.60
            (9, "non-informative", 0.97),  # disagrees by 0.97
            (3, "informative", 0.90),  # agrees: left out
            (7, "informative", 0.08),  # disagrees by 0.92
        ]
    )
    assert w.count() == 3
    assert [w.frame_at_row(i) for i in range(3)] == [9, 7, 5]
    assert w.findChild(QWidget, "header").text().startswith("3 disagreements")
    rows = w.findChild(QWidget, "rows")
    assert rows.item(1).text() == "frame 7 · label informative · model 0.08"
    # Enter on the current row, after moving down with the keyboard.
    rows.setFocus()
    qtbot.keyClick(rows, Qt.Key.Key_Down)
    with qtbot.waitSignal(w.frame_requested) as sig:
        qtbot.keyClick(rows, Qt.Key.Key_Return)
    assert sig.args == [7]
    # Double-click on a row (a real double-click starts with a press).
    rect = rows.visualItemRect(rows.item(2))
    qtbot.mouseClick(rows.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(w.frame_requested) as sig:
        qtbot.mouseDClick(rows.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert sig.args == [5]
    w.set_items([])
    assert w.count() == 0 and w.current_frame() is None


# ------------------------------------------------------------------ help overlay


def test_help_overlay_toggles_covers_parent_and_closes(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.resize(600, 400)
    parent.show()
    qtbot.waitExposed(parent)
    ov = HelpOverlayWidget(parent)
    ov.set_shortcuts([("Space", "Play / pause"), ("I", "Label informative")])
    assert not ov.isVisible()
    ov.toggle()
    assert ov.isVisible() and ov.geometry() == parent.rect()
    parent.resize(700, 450)
    qtbot.waitUntil(lambda: ov.geometry() == parent.rect(), timeout=1000)
    ov.toggle()
    assert not ov.isVisible()
    ov.toggle()
    qtbot.keyClick(ov, Qt.Key.Key_Escape)
    assert not ov.isVisible()
    ov.toggle()
    qtbot.mouseClick(ov, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert not ov.isVisible()
