"""A thin per-frame probability strip drawn under a video scrubber (SPEC §2.1).

The bar colours each frame by the model's probability of the positive class (red 0 →
amber → green 1; unscored frames grey) or, once a decision threshold is set, by the
frame's rank (:func:`rank_positions`: amber at the threshold, deeper red / green the
further a frame ranks below / above it), so that a model whose probabilities crowd
around 0.5 still shows its ordering. Ticks above the bar show expert labels, a shaded
span the marked range, notches the sampled frames, and a cursor the current frame.
Click or drag to seek; Shift+click asks for a range ending at the clicked frame.

Drawing cost does not depend on the number of frames: the per-frame values are turned
into one row of ``width`` pixels (the mean probability of the frames under each
pixel) when data or size change, and that row is stretched to the bar's height.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QHelpEvent,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

# Colour map stops (probability, RGB): a red-amber-green ramp, darkened enough that
# white cursor and grey "no score" stay distinguishable from every value.
_STOPS = np.array([0.0, 0.5, 1.0])
_STOP_RGB = np.array([[200, 50, 40], [232, 178, 48], [40, 150, 70]], dtype=np.float64)
NO_SCORE_RGB = (150, 150, 150)
"""Colour of frames without a score (nor a scored frame within the fill gap)."""

DEFAULT_LABEL_COLORS: dict[str, tuple[int, int, int]] = {
    "informative": (33, 113, 181),
    "non-informative": (190, 50, 160),
}
"""Tick colours of the frame-quality labels; other tasks pass their own."""


def probability_rgb(p: np.ndarray) -> np.ndarray:
    """Colours of probabilities ``p`` (any shape, NaN = no score) as uint8 ``(..., 3)``."""
    p = np.asarray(p, dtype=np.float64)
    out = np.empty(p.shape + (3,), dtype=np.uint8)
    for c in range(3):
        out[..., c] = np.rint(np.interp(np.nan_to_num(p, nan=0.0), _STOPS, _STOP_RGB[:, c]))
    out[np.isnan(p)] = NO_SCORE_RGB
    return out


def rank_positions(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Colour-scale positions in (0, 1) of probabilities ``probs`` (float, ``(k,)``).

    Below ``threshold`` a probability's position is half its mid-rank among the
    probabilities below it (0 side: the lowest); at or above it, 0.5 plus half its
    mid-rank among those above. 0.5 (amber) is the threshold; ties share a position.
    """
    p = np.asarray(probs, dtype=np.float64)
    out = np.empty_like(p)
    for mask, base in ((p < threshold, 0.0), (p >= threshold, 0.5)):
        v = p[mask]
        if v.size:
            s = np.sort(v)
            mid = (np.searchsorted(s, v, "left") + np.searchsorted(s, v, "right")) / 2
            out[mask] = base + 0.5 * mid / v.size
    return out


def _row_image(rgb: np.ndarray, alpha: np.ndarray | None = None) -> QImage:
    """A ``1``-row QImage from ``rgb`` uint8 ``(w, 3)`` (and ``alpha`` uint8 ``(w,)``)."""
    w = rgb.shape[0]
    argb = np.empty((1, w, 4), dtype=np.uint8)  # little-endian ARGB32 is B, G, R, A
    argb[0, :, 0] = rgb[:, 2]
    argb[0, :, 1] = rgb[:, 1]
    argb[0, :, 2] = rgb[:, 0]
    argb[0, :, 3] = 255 if alpha is None else alpha
    fmt = QImage.Format.Format_ARGB32 if alpha is not None else QImage.Format.Format_RGB32
    return QImage(argb.data, w, 1, 4 * w, fmt).copy()  # copy: own the pixels


class ProbabilityStripWidget(QWidget):
    """Per-frame model probability, expert labels and the current frame, in one strip.

    Frames map linearly onto ``contentsRect()``'s width, so the owner can align the
    strip with a slider's groove through ``setContentsMargins``.

    Parameters
    ----------
    fill_gap : int
        An unscored frame takes the probability of the nearest scored frame when that
        is at most this many frames away; further away it is drawn grey.
    label_colors : dict[str, tuple[int, int, int]], optional
        RGB tick colour of each label value (default: the frame-quality labels).

    Signals
    -------
    frame_requested(int)
        The frame under a click or drag.
    range_requested(int)
        The frame under a Shift+click (the end of a range to mark).
    """

    frame_requested = Signal(int)
    range_requested = Signal(int)

    _TICK_H = 5
    _GAP = 1
    _BAR_H = 12

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        fill_gap: int = 12,
        label_colors: dict[str, tuple[int, int, int]] | None = None,
    ) -> None:
        super().__init__(parent)
        self._n = 0
        self._fill_gap = int(fill_gap)
        self._label_colors = dict(DEFAULT_LABEL_COLORS if label_colors is None else label_colors)
        self._score_frames = np.zeros(0, dtype=np.int64)
        self._score_probs = np.zeros(0, dtype=np.float64)
        self._filled = np.zeros(0, dtype=np.float64)  # (n,) NaN where no colour
        self._colour_pos = self._filled  # (n,) colour-scale position of each frame
        self._threshold: float | None = None
        self._range: tuple[int, int] | None = None
        self._sample_step = 0
        self._labels: dict[int, str] = {}
        self._current: int | None = None
        self._last_sent: int | None = None
        self._cache: tuple[int, QImage, QImage] | None = None  # (width, bar, ticks)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.sizeHint().height())
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:  # noqa: N802
        m = self.contentsMargins()
        return QSize(400, self._TICK_H + self._GAP + self._BAR_H + 2 + m.top() + m.bottom())

    # -------------------------------------------------------------------- API
    def n_frames(self) -> int:
        return self._n

    def set_n_frames(self, n: int) -> None:
        """Set the video length; scores and labels beyond it are dropped."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self._n = int(n)
        keep = self._score_frames < self._n
        self._score_frames = self._score_frames[keep]
        self._score_probs = self._score_probs[keep]
        self._labels = {f: v for f, v in self._labels.items() if f < self._n}
        if self._current is not None and self._current >= self._n:
            self._current = None
        self._refill()

    def set_fill_gap(self, frames: int) -> None:
        self._fill_gap = int(frames)
        self._refill()

    def set_threshold(self, threshold: float | None) -> None:
        """Colour by rank around ``threshold`` (see :func:`rank_positions`); None: by
        probability."""
        self._threshold = None if threshold is None else float(threshold)
        self._refill()

    def threshold(self) -> float | None:
        return self._threshold

    def set_range(self, first: int | None, last: int | None = None) -> None:
        """Shade frames ``first``..``last`` (inclusive, any order); None removes it."""
        self._range = None if first is None or last is None else (
            min(first, last), max(first, last))
        self.update()

    def set_sample_step(self, step: int) -> None:
        """Notch every ``step``-th frame (0: none), the frames of sampled labelling."""
        self._sample_step = max(int(step), 0)
        self.update()

    def set_scores(self, frames: np.ndarray, probs: np.ndarray) -> None:
        """Show the probabilities ``probs`` (float, ``(k,)``) of ``frames`` (int, ``(k,)``).

        Frames may be sparse and unordered; a repeated frame keeps its last value.
        """
        frames = np.asarray(frames, dtype=np.int64).ravel()
        probs = np.asarray(probs, dtype=np.float64).ravel()
        if frames.shape != probs.shape:
            raise ValueError(f"frames {frames.shape} and probs {probs.shape} differ in shape")
        if frames.size and (frames.min() < 0 or frames.max() >= self._n):
            raise ValueError(f"frames must lie in [0, {self._n}); call set_n_frames first")
        # Last occurrence wins: unique on the reversed arrays.
        uniq, idx = np.unique(frames[::-1], return_index=True)
        self._score_frames = uniq
        self._score_probs = np.clip(probs[::-1][idx], 0.0, 1.0)
        self._refill()

    def clear_scores(self) -> None:
        self._score_frames = np.zeros(0, dtype=np.int64)
        self._score_probs = np.zeros(0, dtype=np.float64)
        self._refill()

    def set_labels(self, labels: dict[int, str]) -> None:
        """Replace the expert labels: ``{frame: label value}``."""
        self._labels = {int(f): str(v) for f, v in labels.items() if 0 <= int(f) < self._n}
        self._invalidate()

    def set_label(self, frame: int, value: str | None) -> None:
        """Set (or, with ``None``, remove) the expert label of one frame."""
        if value is None:
            self._labels.pop(int(frame), None)
        elif 0 <= frame < self._n:
            self._labels[int(frame)] = str(value)
        self._invalidate()

    def current(self) -> int | None:
        return self._current

    def set_current(self, frame: int | None) -> None:
        """Move the cursor (no signal: this follows the player, it does not seek)."""
        if frame is not None and not 0 <= frame < self._n:
            frame = None
        if frame != self._current:
            self._current = frame
            self.update()

    def probability_at(self, frame: int) -> float | None:
        """The drawn probability of ``frame`` (after filling), ``None`` when grey."""
        if not 0 <= frame < self._n or np.isnan(self._filled[frame]):
            return None
        return float(self._filled[frame])

    def frame_at(self, x: float) -> int:
        """The frame under widget x-coordinate ``x`` (clamped to the video)."""
        r = self.contentsRect()
        if self._n == 0 or r.width() <= 0:
            return 0
        f = int(np.floor((x - r.left()) * self._n / r.width()))
        return min(max(f, 0), self._n - 1)

    def x_for_frame(self, frame: int) -> float:
        """Widget x-coordinate of the centre of ``frame``."""
        r = self.contentsRect()
        return r.left() + (frame + 0.5) * r.width() / max(self._n, 1)

    # ---------------------------------------------------------------- drawing
    def _refill(self) -> None:
        n = self._n
        filled = np.full(n, np.nan)
        sf, sp = self._score_frames, self._score_probs
        if n and sf.size:
            frames = np.arange(n)
            pos = np.searchsorted(sf, frames)
            left = np.clip(pos - 1, 0, sf.size - 1)
            right = np.clip(pos, 0, sf.size - 1)
            dl = np.abs(frames - sf[left])
            dr = np.abs(sf[right] - frames)
            nearest = np.where(dr < dl, right, left)
            dist = np.minimum(dl, dr)
            ok = dist <= self._fill_gap
            filled[ok] = sp[nearest[ok]]
        self._filled = filled
        self._colour_pos = filled
        if self._threshold is not None and n and sf.size:
            pos = np.full(n, np.nan)
            pos[ok] = rank_positions(sp, self._threshold)[nearest[ok]]
            self._colour_pos = pos
        self._invalidate()

    def _invalidate(self) -> None:
        self._cache = None
        self.update()

    def _column_spans(self, width: int) -> tuple[np.ndarray, np.ndarray]:
        """First and one-past-last frame under each of ``width`` pixel columns."""
        cols = np.arange(width + 1, dtype=np.int64)
        edges = cols * self._n // width
        start = edges[:-1]
        stop = np.maximum(edges[1:], start + 1)  # fewer frames than pixels: nearest frame
        return np.minimum(start, self._n - 1), np.minimum(stop, self._n)

    def _images(self, width: int) -> tuple[QImage, QImage]:
        if self._cache is not None and self._cache[0] == width:
            return self._cache[1], self._cache[2]
        start, stop = self._column_spans(width)
        ok = ~np.isnan(self._colour_pos)
        # Prefix sums give the mean over each column's span in O(n + width).
        csum = np.concatenate([[0.0], np.cumsum(np.where(ok, self._colour_pos, 0.0))])
        ccnt = np.concatenate([[0], np.cumsum(ok)])
        cnt = ccnt[stop] - ccnt[start]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(cnt > 0, (csum[stop] - csum[start]) / np.maximum(cnt, 1), np.nan)
        bar = _row_image(probability_rgb(mean))

        rgb = np.zeros((width, 3), dtype=np.uint8)
        alpha = np.zeros(width, dtype=np.uint8)
        if self._labels:
            frames = np.fromiter(self._labels.keys(), dtype=np.int64, count=len(self._labels))
            colours = np.array(
                [self._label_colors.get(v, (90, 90, 90)) for v in self._labels.values()],
                dtype=np.uint8,
            )
            c0 = frames * width // self._n
            c1 = np.maximum((frames + 1) * width // self._n, c0 + 1)
            if self._n >= width:  # one column per label, widened to 2 px to be seen
                for shift in (1, 0):  # the label's own column drawn last, on top
                    cols = np.minimum(c0 + shift, width - 1)
                    rgb[cols] = colours
                    alpha[cols] = 255
            else:
                for a, b, col in zip(c0, c1, colours, strict=True):
                    rgb[a:b] = col
                    alpha[a:b] = 255
        ticks = _row_image(rgb, alpha)
        self._cache = (width, bar, ticks)
        return bar, ticks

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        r = self.contentsRect()
        tick_rect = QRect(r.left(), r.top(), r.width(), self._TICK_H)
        bar_rect = QRect(
            r.left(),
            r.top() + self._TICK_H + self._GAP,
            r.width(),
            r.height() - self._TICK_H - self._GAP,
        )
        frame_pen = QPen(self.palette().mid().color(), 1)
        if self._n == 0 or r.width() <= 0:
            p.fillRect(bar_rect, QColor(*NO_SCORE_RGB).lighter(130))
            p.end()
            return
        bar, ticks = self._images(r.width())
        # One pixel per column horizontally: scaling is only vertical, hence exact.
        p.drawImage(QRectF(bar_rect), bar)
        p.drawImage(QRectF(tick_rect), ticks)
        p.setPen(frame_pen)
        p.drawRect(bar_rect.adjusted(0, 0, -1, -1))
        self._paint_marks(p, r, bar_rect)
        if self._current is not None:
            x = self.x_for_frame(self._current)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            # A white line with a dark outline reads on red, amber, green and grey.
            p.setPen(QPen(QColor(20, 20, 20), 3))
            p.drawLine(QPointF(x, bar_rect.top()), QPointF(x, bar_rect.bottom() + 1))
            p.setPen(QPen(QColor(255, 255, 255), 1.2))
            p.drawLine(QPointF(x, bar_rect.top()), QPointF(x, bar_rect.bottom() + 1))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(20, 20, 20))
            t = float(r.top())
            p.drawPolygon(
                QPolygonF(
                    [QPointF(x - 4, t), QPointF(x + 4, t), QPointF(x, t + self._TICK_H + self._GAP)]
                )
            )
        p.end()

    def _paint_marks(self, p: QPainter, r: QRect, bar_rect: QRect) -> None:
        """The sampled-frame notches and the marked range."""
        step = self._sample_step
        if step and self._n // step <= r.width():
            p.setPen(QPen(QColor(20, 20, 20), 1))
            y0, y1 = bar_rect.bottom() - 3, bar_rect.bottom()
            for f in range(0, self._n, step):
                x = self.x_for_frame(f)
                p.drawLine(QPointF(x, y0), QPointF(x, y1))
        if self._range is not None:
            a, b = self._range
            x0 = r.left() + a * r.width() / max(self._n, 1)
            x1 = r.left() + (b + 1) * r.width() / max(self._n, 1)
            span = QRectF(x0, r.top(), max(x1 - x0, 2.0), r.height())
            p.fillRect(span, QColor(40, 90, 220, 90))
            p.setPen(QPen(QColor(40, 90, 220), 2))
            p.drawLine(span.topLeft(), span.bottomLeft())
            p.drawLine(span.topRight(), span.bottomRight())

    # ------------------------------------------------------------------ input
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        if event.button() == Qt.MouseButton.LeftButton and self._n and shift:
            self.range_requested.emit(self.frame_at(event.position().x()))
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._n:
            self._last_sent = None
            self._seek(event.position().x())
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton and self._n:
            self._seek(event.position().x())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def _seek(self, x: float) -> None:
        f = self.frame_at(x)
        if f != self._last_sent:  # a drag over one frame's pixels sends it once
            self._last_sent = f
            self.frame_requested.emit(f)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self._n:
            assert isinstance(event, QHelpEvent)
            f = self.frame_at(event.pos().x())
            prob = self.probability_at(f)
            parts = [f"frame {f}", "not scored" if prob is None else f"model {prob:.2f}"]
            if prob is not None and self._threshold is not None:
                side = "above" if prob >= self._threshold else "below"
                parts[-1] += f" ({side} threshold {self._threshold:.2f})"
            if f in self._labels:
                parts.append(f"expert {self._labels[f]}")
            QToolTip.showText(event.globalPos(), " · ".join(parts), self)
            return True
        return super().event(event)
