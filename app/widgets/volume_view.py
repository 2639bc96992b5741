"""Three linked views of a CT volume: axial, coronal, sagittal, with one crosshair.

:class:`VolumeViewer` holds a ``(Z, Y, X)`` Hounsfield volume (int16 is fastest: one
table gather per slice) and its ``spacing_mm``, and shows it in three
:class:`~app.widgets.volume_slice_view.SliceView` s laid out two by two (the fourth cell
takes a widget of the owner's, e.g. the vessel-aligned planes of a candidate). A
click in one view moves the crosshair there and the other two views to its slices;
each view scrolls on its own (wheel, PgUp / PgDn). The window is shared: presets (PE
L 100 / W 700, mediastinum L 40 / W 400, lung L -600 / W 1500) and free window / level
by right drag (or Ctrl + drag). Candidates are circles coloured by score (the scale of
:func:`app.widgets.mask_candidates.score_rgb`) or by the expert's decision; marked
emboli (spheres) are drawn where they cut each slice.

A slice redraw (cut, window, image, overlay) takes about 1-3 ms for a 512 x 512 slice
of a 512 x 512 x 400 int16 volume (``tests/app/test_volume_view.py`` measures it);
only the scrolled view is redrawn, the other two just move their crosshair.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from .mask_candidates import ACCEPTED_RGB, REJECTED_RGB, score_rgb
from .volume_slice_view import VIEW_RGB, CandidateMark, Overlay, SliceView
from .volume_slices import PRESETS, VIEWS, GreyMapper, SlicePlane, sphere_discs

CANDIDATE_MIN_RADIUS_MM = 2.5  # circles stay visible around the smallest clusters


class VolumeViewer(QWidget):
    """Axial, coronal and sagittal views with a linked crosshair (module docstring).

    Signals
    -------
    cursorMoved(object)
        The crosshair moved: (3,) int64 voxel (plane, row, col).
    candidateClicked(int)
        A candidate's circle was clicked (its id).
    sphereDrawn(object, float)
        A sphere was dragged out: centre (3,) float voxel (plane, row, col), radius mm.
    windowChanged(float, float)
        The window (level, width) in HU changed.
    """

    cursorMoved = Signal(object)
    candidateClicked = Signal(int)
    sphereDrawn = Signal(object, float)
    windowChanged = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grey = GreyMapper(*PRESETS["PE"])
        self.volume: np.ndarray | None = None
        self.spacing_mm = (1.0, 1.0, 1.0)
        self.planes: dict[str, SlicePlane] = {}
        self.cursor = np.zeros(3, np.int64)
        self.active = "axial"
        self.last_redraw_ms: dict[str, float] = {}
        self._c_ids = np.zeros(0, np.int64)
        self._c_centres = np.zeros((0, 3))
        self._c_radii = np.zeros(0)
        self._c_scores = np.zeros(0)
        self._c_states: list[str | None] = []
        self.selected: int | None = None
        self._s_ids = np.zeros(0, np.int64)
        self._s_centres = np.zeros((0, 3))
        self._s_radii = np.zeros(0)
        self._w0 = (0.0, 0.0)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        self.preset_buttons: dict[str, QToolButton] = {}
        for i, (name, (lv, wd)) in enumerate(PRESETS.items(), 1):
            b = QToolButton()
            b.setText(name)
            b.setCheckable(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setToolTip(f"Window: level {lv:g} HU, width {wd:g} HU (key {i})")
            b.clicked.connect(lambda _c=False, n=name: self.apply_preset(n))
            bar.addWidget(b)
            self.preset_buttons[name] = b
        self.window_label = QLabel()
        self.window_label.setToolTip("Right drag (or Ctrl + drag) in a view: horizontal "
                                     "changes the width, vertical the level")
        bar.addWidget(self.window_label)
        bar.addStretch(1)
        self.mark_button = QToolButton()
        self.mark_button.setText("Mark embolus (M)")
        self.mark_button.setCheckable(True)
        self.mark_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.mark_button.setToolTip("Drag in a view to mark an embolus as a sphere: press at "
                                    "its centre, release at its edge (Shift + drag works in "
                                    "any mode)")
        self.mark_button.toggled.connect(self.set_mark_mode)
        fit = QToolButton()
        fit.setText("Fit")
        fit.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        fit.setToolTip("Fit every view to its cell (F in a view; Ctrl + wheel zooms, "
                       "middle drag pans)")
        fit.clicked.connect(self.fit)
        bar.addWidget(self.mark_button)
        bar.addWidget(fit)

        self.views: dict[str, SliceView] = {}
        self.grid = QGridLayout()
        self.grid.setSpacing(3)
        for name, (r, c) in zip(VIEWS, ((0, 0), (0, 1), (1, 0))):
            v = SliceView(name)
            v.setToolTip("Click: move the crosshair · wheel or PgUp/PgDn: scroll · right "
                         "drag: window/level · Shift+drag or mark mode: mark a sphere · "
                         "Ctrl+wheel: zoom · F: fit")
            v.picked.connect(lambda p, n=name: self._on_picked(n, p))
            v.candidateClicked.connect(self.candidateClicked)
            v.sphereDrawn.connect(self.sphereDrawn)
            v.stepRequested.connect(lambda k, n=name: self.step(n, k))
            v.windowDragged.connect(self._on_window_drag)
            v.activated.connect(lambda n=name: setattr(self, "active", n))
            self.views[name] = v
            self.grid.addWidget(v, r, c)
        self.corner = QWidget()
        self.grid.addWidget(self.corner, 1, 1)
        for k in range(2):
            self.grid.setRowStretch(k, 1)
            self.grid.setColumnStretch(k, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addLayout(self.grid, 1)
        self._show_window()

    # ------------------------------------------------------------------ layout
    def set_corner(self, widget: QWidget) -> None:
        """Put ``widget`` in the fourth cell (below right)."""
        self.grid.removeWidget(self.corner)
        self.corner.setParent(None)
        self.corner = widget
        self.grid.addWidget(widget, 1, 1)

    def fit(self) -> None:
        for v in self.views.values():
            v.fit()

    def set_mark_mode(self, on: bool) -> None:
        """In mark mode a left drag marks a sphere instead of moving the crosshair."""
        if self.mark_button.isChecked() != bool(on):
            self.mark_button.setChecked(bool(on))
            return
        for v in self.views.values():
            v.mark_mode = bool(on)

    # ------------------------------------------------------------------ volume
    def set_volume(self, hu: np.ndarray | None, spacing_mm=(1.0, 1.0, 1.0), *,
                   flip_z: bool = False, cursor=None) -> None:
        """Show ``hu`` (Z, Y, X), ``spacing_mm`` (dz, dy, dx); None clears the views.

        ``flip_z``: the planes run towards the head (draw them bottom-up). The crosshair
        starts at ``cursor`` (default: the centre).
        """
        self.volume = hu
        self.selected = None
        self.planes = {}
        self.set_candidates([], np.zeros((0, 3)), [])
        self.set_spheres([], np.zeros((0, 3)), [])
        if hu is None:
            for v in self.views.values():
                v.plane = None
                v.image_item.set_image(np.zeros((1, 1), np.uint8), v.image_rect())
                v.set_overlay(Overlay())
                v.set_caption("")
            return
        if hu.ndim != 3:
            raise ValueError(f"a volume is (Z, Y, X), got shape {hu.shape}")
        self.spacing_mm = tuple(float(s) for s in spacing_mm)
        self.planes = {n: SlicePlane(n, hu.shape, self.spacing_mm, flip_z) for n in VIEWS}
        for n, v in self.views.items():
            v.set_plane(self.planes[n])
        c = np.asarray(hu.shape) // 2 if cursor is None else cursor
        self.cursor = self.planes["axial"].clamp(c)
        self.redraw()

    # ------------------------------------------------------------------ cursor
    def set_cursor(self, zyx, *, emit: bool = True) -> None:
        """Move the crosshair to voxel ``zyx`` (rounded, clamped); redraw what changed."""
        if not self.planes:
            return
        new = self.planes["axial"].clamp(zyx)
        moved = [n for n in VIEWS if new[VIEWS.index(n)] != self.cursor[VIEWS.index(n)]]
        self.cursor = new
        self.redraw(moved, overlays_only=[n for n in VIEWS if n not in moved])
        if emit:
            self.cursorMoved.emit(self.cursor.copy())

    def step(self, view: str, n: int) -> None:
        """Scroll ``view`` by ``n`` slices."""
        if not self.planes:
            return
        p = self.cursor.astype(np.float64)
        p[VIEWS.index(view)] += n
        self.active = view
        self.set_cursor(p)

    def step_active(self, n: int) -> None:
        """Scroll the view last clicked or scrolled."""
        self.step(self.active, n)

    def _on_picked(self, view: str, zyx) -> None:
        self.active = view
        self.set_cursor(zyx)

    # ------------------------------------------------------------------ window
    def window(self) -> tuple[float, float]:
        """(level, width) in HU."""
        return self.grey.level, self.grey.width

    def set_window(self, level: float, width: float) -> None:
        self.grey.set_window(level, width)
        self._show_window()
        self.redraw()
        self.windowChanged.emit(self.grey.level, self.grey.width)

    def apply_preset(self, name: str) -> None:
        """Set a window of :data:`app.widgets.volume_slices.PRESETS`."""
        if name not in PRESETS:
            raise ValueError(f"unknown window preset {name!r}; choose one of {list(PRESETS)}")
        self.set_window(*PRESETS[name])

    def _show_window(self) -> None:
        lv, wd = self.window()
        self.window_label.setText(f"L {lv:.0f}  W {wd:.0f}")
        for name, b in self.preset_buttons.items():
            b.setChecked(PRESETS[name] == (lv, wd))

    def _on_window_drag(self, dx: float, dy: float, first: bool) -> None:
        if first:
            self._w0 = self.window()
            return
        l0, w0 = self._w0
        k = max(1.0, w0 / 256.0)  # HU per screen pixel: 256 px doubles the width
        self.set_window(round(l0 + dy * k), round(max(1.0, w0 + dx * k)))

    # ------------------------------------------------------------------ markers
    def set_candidates(self, ids, centres_zyx, radii_mm, scores=None, states=None) -> None:
        """The candidates to draw: ids (N,), centres (N, 3) voxel, radii (N,) mm, model
        scores (N,) (NaN or None: not scored) and states ("accepted", "rejected" or
        None)."""
        self._c_ids = np.asarray(ids, np.int64).reshape(-1)
        n = len(self._c_ids)
        self._c_centres = np.asarray(centres_zyx, np.float64).reshape(n, 3)
        self._c_radii = np.maximum(np.asarray(radii_mm, np.float64).reshape(n),
                                   CANDIDATE_MIN_RADIUS_MM)
        self._c_scores = (np.full(n, np.nan) if scores is None else
                          np.array([np.nan if s is None else s for s in scores], float))
        self._c_states = list(states) if states is not None else [None] * n
        if self.selected is not None and self.selected not in set(self._c_ids.tolist()):
            self.selected = None
        self.redraw(overlays_only=list(VIEWS))

    def candidate_centre(self, cid: int) -> np.ndarray | None:
        k = np.flatnonzero(self._c_ids == cid)
        return self._c_centres[k[0]] if len(k) else None

    def select_candidate(self, cid: int | None, *, move: bool = True) -> None:
        """Highlight candidate ``cid`` (None: none) and move the crosshair to it."""
        self.selected = cid
        c = None if cid is None else self.candidate_centre(cid)
        if c is not None and move:
            self.set_cursor(c)
        self.redraw(overlays_only=list(VIEWS))

    def set_spheres(self, ids, centres_zyx, radii_mm) -> None:
        """Marked emboli: ids (K,), centres (K, 3) voxel, radii (K,) mm."""
        self._s_ids = np.asarray(ids, np.int64).reshape(-1)
        k = len(self._s_ids)
        self._s_centres = np.asarray(centres_zyx, np.float64).reshape(k, 3)
        self._s_radii = np.asarray(radii_mm, np.float64).reshape(k)
        self.redraw(overlays_only=list(VIEWS))

    def sphere_at(self, zyx) -> int | None:
        """The marked sphere holding voxel point ``zyx`` (the nearest centre), or None."""
        if not len(self._s_ids):
            return None
        d = np.sqrt((((self._s_centres - np.asarray(zyx, float)) *
                      np.asarray(self.spacing_mm)) ** 2).sum(axis=1))
        k = int(np.argmin(d - self._s_radii))
        return int(self._s_ids[k]) if d[k] <= self._s_radii[k] else None

    # ------------------------------------------------------------------ drawing
    def redraw(self, views=None, *, overlays_only=()) -> None:
        """Cut, window and draw ``views`` (default all); only re-lay the markers and the
        crosshair of ``overlays_only``."""
        if not self.planes or self.volume is None:
            return
        for n in (VIEWS if views is None else views):
            self.redraw_view(n)
        for n in overlays_only:
            if views is None or n not in views:
                self._overlay(n)

    def redraw_view(self, name: str) -> float:
        """Redraw one view (image and overlay); returns (and keeps in
        ``last_redraw_ms``) the milliseconds it took, painting not included."""
        t0 = time.perf_counter()
        plane, v = self.planes[name], self.views[name]
        idx = int(self.cursor[plane.fixed])
        v.index = idx
        v.set_image(self.grey(plane.image(self.volume, idx)))
        self._overlay(name)
        ms = (time.perf_counter() - t0) * 1000
        self.last_redraw_ms[name] = ms
        return ms

    def _overlay(self, name: str) -> None:
        plane, v = self.planes[name], self.views[name]
        idx = int(self.cursor[plane.fixed])
        v.index = idx
        xy, _ = plane.to_scene(self.cursor)
        r, c = plane.axes
        ov = Overlay(cross=(float(xy[0, 0]), float(xy[0, 1])),
                     cross_rgb=(VIEW_RGB[VIEWS[r]], VIEW_RGB[VIEWS[c]]))
        ov.spheres = sphere_discs(plane, idx, self._s_ids, self._s_centres, self._s_radii)
        pos = {int(k): i for i, k in enumerate(self._c_ids)}
        for d in sphere_discs(plane, idx, self._c_ids, self._c_centres, self._c_radii,
                              near_mm=plane.slice_mm(), min_radius_mm=CANDIDATE_MIN_RADIUS_MM):
            i = pos[d.key]
            state, score = self._c_states[i], self._c_scores[i]
            rgb = {"accepted": ACCEPTED_RGB, "rejected": REJECTED_RGB}.get(
                state, score_rgb(None if np.isnan(score) else float(score)))
            mark = {"accepted": "✓ ", "rejected": "✗ "}.get(state, "")
            label = mark + ("" if np.isnan(score) else f"{score:.2f}")
            ov.candidates.append(CandidateMark(d, rgb, state or "pending",
                                               d.key == self.selected, label.strip()))
        v.set_overlay(ov)
        mm = idx * plane.slice_mm()
        v.set_caption(f"{name.capitalize()} {idx + 1} / {plane.depth}", f"{mm:.1f} mm")

