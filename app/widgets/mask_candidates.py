"""Candidate boxes of :class:`app.widgets.mask_canvas.MaskCanvas`, coloured by score
and styled by review state, each with a score badge of fixed screen size.

:class:`CandidateLayer` holds the boxes of one frame in a scene: replace them all, select
one, find the one under a point.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene

from .mask_items import cosmetic_pen
from .probability_strip import NO_SCORE_RGB, probability_rgb

ACCEPTED = "accepted"
REJECTED = "rejected"
PENDING = "pending"
STATES = (PENDING, ACCEPTED, REJECTED)
"""Candidate review states; None and "" mean :data:`PENDING`."""

ACCEPTED_RGB = (30, 215, 90)
REJECTED_RGB = (235, 45, 45)
SELECTED_RGB = (255, 255, 255)
REJECTED_OPACITY = 0.5


def normalise_state(state: str | None) -> str:
    s = PENDING if state in (None, "") else str(state).lower()
    if s not in STATES:
        raise ValueError(f"candidate state {state!r}: expected one of {STATES} or None")
    return s


def score_rgb(score: float | None) -> tuple[int, int, int]:
    """Colour of a candidate score (the probability strip's red-amber-green scale)."""
    if score is None or not np.isfinite(score):
        return NO_SCORE_RGB
    return tuple(int(v) for v in probability_rgb(np.array([float(score)]))[0])


class BadgeItem(QGraphicsItem):
    """A candidate's score label: a tick (accepted) or cross (rejected) glyph and the
    score, on the box colour; drawn at a fixed screen size just above its anchor."""

    PAD = 3.0

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.text = ""
        self.state = PENDING
        self.rgb: tuple[int, int, int] = NO_SCORE_RGB
        self.bold = False
        self.below = False
        self._rect = QRectF()

    def set_content(self, text: str, state: str, rgb, bold: bool) -> None:
        self.prepareGeometryChange()
        self.text, self.state, self.rgb, self.bold = text, state, tuple(rgb), bold
        fm = QFontMetricsF(self._font())
        glyph = fm.height() if state != PENDING else 0.0
        w = fm.horizontalAdvance(text) + glyph + 2 * self.PAD
        h = fm.height() + 2 * self.PAD - 2
        # on the box's top edge; inside the box when it touches the image's top
        self._rect = QRectF(0, 0, w, h) if self.below else QRectF(0, -h, w, h)

    def _font(self) -> QFont:
        f = QFont()
        f.setPointSizeF(8.5)
        f.setBold(self.bold)
        return f

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        r = self._rect
        bg = QColor(*self.rgb)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRect(r)
        dark = 0.299 * bg.red() + 0.587 * bg.green() + 0.114 * bg.blue() > 150
        fg = QColor(0, 0, 0) if dark else QColor(255, 255, 255)
        x = r.left() + self.PAD
        if self.state != PENDING:  # the glyph, drawn (no font needed)
            s = r.height() - 2 * self.PAD
            y0 = r.top() + self.PAD
            path = QPainterPath()
            if self.state == ACCEPTED:
                path.moveTo(x + 0.1 * s, y0 + 0.55 * s)
                path.lineTo(x + 0.4 * s, y0 + 0.85 * s)
                path.lineTo(x + 0.95 * s, y0 + 0.15 * s)
            else:
                path.moveTo(x + 0.15 * s, y0 + 0.15 * s)
                path.lineTo(x + 0.85 * s, y0 + 0.85 * s)
                path.moveTo(x + 0.85 * s, y0 + 0.15 * s)
                path.lineTo(x + 0.15 * s, y0 + 0.85 * s)
            painter.setPen(QPen(fg, 2.0))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
            x += s + self.PAD
        painter.setPen(fg)
        painter.setFont(self._font())
        painter.drawText(QRectF(x, r.top(), r.right() - x, r.height()),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.text)


class CandidateItem(QGraphicsItem):
    """One candidate box (row0, col0, row1, col1), coloured and styled by its state.

    * pending, scored: outline in the score's colour, badge with the score;
    * pending, unscored: grey dashed outline, badge "–";
    * accepted: thick solid green outline, badge with a tick and the score;
    * rejected: red outline crossed corner to corner, the whole item dimmed;
    * selected: a white halo around the outline, bold badge, drawn on top.
    """

    def __init__(self, cid: int, box, score: float | None, state: str | None) -> None:
        super().__init__()
        self.cid = int(cid)
        r0, c0, r1, c1 = (float(v) for v in box)
        if not (r1 > r0 and c1 > c0):
            raise ValueError(f"candidate {cid}: empty box {tuple(box)} (row0, col0, row1, col1)")
        self.box = (r0, c0, r1, c1)
        self.rect = QRectF(c0, r0, c1 - c0, r1 - r0)
        self.score = None if score is None or not np.isfinite(score) else float(score)
        self.state = normalise_state(state)
        self.selected = False
        self.badge = BadgeItem(self)
        self.badge.below = r0 < 1
        self.badge.setPos(self.rect.topLeft())
        self._restyle()

    # -- style -----------------------------------------------------------------------
    @property
    def rgb(self) -> tuple[int, int, int]:
        """Outline colour: the state's colour once reviewed, else the score's colour."""
        if self.state == ACCEPTED:
            return ACCEPTED_RGB
        if self.state == REJECTED:
            return REJECTED_RGB
        return score_rgb(self.score)

    @property
    def dashed(self) -> bool:
        return self.state == PENDING and self.score is None

    @property
    def label(self) -> str:
        return "–" if self.score is None else f"{self.score:.2f}"

    def pen_width(self) -> float:
        return (3.0 if self.state == ACCEPTED else 2.0) + (1.0 if self.selected else 0.0)

    def set_selected(self, on: bool) -> None:
        self.selected = bool(on)
        self._restyle()

    def _restyle(self) -> None:
        self.setOpacity(REJECTED_OPACITY if self.state == REJECTED and not self.selected
                        else 1.0)
        self.setZValue(30 if self.selected else 20 + (self.state == PENDING))
        self.badge.set_content(self.label, self.state, self.rgb, self.selected)
        self.update()

    def contains_point(self, x: float, y: float) -> bool:
        """Whether scene point (x, y) lies in the box (edges included)."""
        return self.rect.left() <= x <= self.rect.right() and self.rect.top() <= y <= self.rect.bottom()

    # -- drawing ---------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802
        return self.rect.adjusted(-2, -2, 2, 2)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self.selected:  # halo, a few screen pixels wide, under the outline
            painter.setPen(cosmetic_pen(SELECTED_RGB, self.pen_width() + 4))
            painter.drawRect(self.rect)
        style = Qt.PenStyle.DashLine if self.dashed or self.state == REJECTED \
            else Qt.PenStyle.SolidLine
        painter.setPen(cosmetic_pen(self.rgb, self.pen_width(), style))
        painter.drawRect(self.rect)
        if self.state == REJECTED:
            painter.setPen(cosmetic_pen(self.rgb, 1.5))
            painter.drawLine(self.rect.topLeft(), self.rect.bottomRight())
            painter.drawLine(self.rect.topRight(), self.rect.bottomLeft())


class CandidateLayer:
    """The candidate boxes of one frame, drawn in ``scene``; one may be selected."""

    def __init__(self, scene: QGraphicsScene) -> None:
        self.scene = scene
        self.items: dict[int, CandidateItem] = {}
        self.selected: int | None = None

    def set(self, candidates: Iterable[tuple]) -> None:
        """Replace the boxes: ``(id, (row0, col0, row1, col1), score | None, state)``.
        The selection is kept when its id is still there."""
        items = [CandidateItem(cid, box, score, state) for cid, box, score, state in candidates]
        ids = [it.cid for it in items]
        if len(set(ids)) != len(ids):
            raise ValueError("candidate ids must be unique")
        for it in self.items.values():
            self.scene.removeItem(it)
        self.items = {it.cid: it for it in items}
        for it in items:
            self.scene.addItem(it)
        if self.selected in self.items:
            self.items[self.selected].set_selected(True)
        else:
            self.selected = None

    def select(self, cid: int | None) -> None:
        if cid is not None and cid not in self.items:
            raise KeyError(f"no candidate {cid}")
        if self.selected in self.items:
            self.items[self.selected].set_selected(False)
        self.selected = cid
        if cid is not None:
            self.items[cid].set_selected(True)

    def at(self, row: float, col: float) -> int | None:
        """Id of the smallest box containing image point (row, col), or None."""
        hits = [it for it in self.items.values() if it.contains_point(col, row)]
        if not hits:
            return None
        return min(hits, key=lambda it: it.rect.width() * it.rect.height()).cid
