"""Model output for the CIMT workspace tests: maps with flat LI / MA ridges."""

from __future__ import annotations

import numpy as np


def ridge_output(ws, li_row: float = 160.0, ma_row: float = 175.0, params=None):
    """Model output for the open frame's first ROI from a map with flat LI / MA ridges,
    its snakes converged with ``params`` (default: the defaults); returns the ROI."""
    from app.workspaces.cimt.maps import RoiOutput
    from core.tasks.cimt.predict import boundaries

    ann = ws.frame_rois()[0]
    r0, c0, r1, c1 = ws.box_of(ann)
    rows = np.arange(r0, r1, dtype=float)[:, None] * np.ones((1, c1 - c0))
    li = np.exp(-0.5 * ((rows - li_row) / 2.0) ** 2)
    ma = np.exp(-0.5 * ((rows - ma_row) / 2.0) ** 2)
    probs = np.stack([np.clip(1 - li - ma, 0.01, 1), li, ma]).astype(np.float32)
    probs /= probs.sum(axis=0, keepdims=True)
    ws._results[ann.id] = RoiOutput(boundaries(probs, (r0, c0, r1, c1), params=params,
                                               spacing=ws.spacing_of((r0, c0, r1, c1))))
    ws._show_results()
    return ann
