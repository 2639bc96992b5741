"""Dense 3-class confidence maps of an ROI, computed convolutionally (SPEC §1.7).

The map at ROI pixel ``(r, c)`` is, by definition, the context network's softmax on the
pixel's centred patch (:func:`core.tasks.cimt.pixels.centred_patches` through
:func:`core.tasks.cimt.network.context_net`). Classifying every pixel's patch repeats
almost all of the convolution work: neighbouring patches overlap by all but one column.
Here the network runs once over the ROI's padded image block:

* every layer of stride ``s`` is applied with stride 1 and its output split into
  ``s x s`` phases (space-to-batch, "shift-and-stitch"), so the next layers run
  unchanged on each phase; this equals the a trous scheme (strides removed, later kernels
  dilated by the accumulated stride 32) computed with ordinary convolutions. Phases that
  can only produce pixels beyond the ROI are dropped as soon as they appear, so a small
  ROI costs little more than its own pixels;
* ReLU, LRN (across channels at one position) and dropout (eval mode: identity) apply
  as they are; pool5's 6 x 6 grid per pixel is gathered (``unfold``: fc6 as a 6 x 6
  convolution by im2col) and the network's own ``classifier`` (fc6, fc7, fc8 as 1 x 1
  convolutions, i.e. the same Linear layers) runs on it;
* the phases are stitched back (batch-to-space) into the ``(3, h, w)`` map.

The input block goes through the training engine's own preprocessing
(:func:`core.train.predict.to_input`), padded by the same border rule as the patches
(:func:`core.tasks.cimt.pixels.padded`), so the map equals per-pixel classification up to
float summation order (within 1e-4 in float32; ``tests/core/test_cimt_dense.py``).

Large ROIs are computed in tiles (:data:`DEFAULT_TILE`) to bound memory; each tile
recomputes its 354 px of context, a few per cent at the default size.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Generator, Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.events import Progress, drain
from core.tasks.cimt.dense_layers import Plan, plan_of
from core.tasks.cimt.network import context_net
from core.tasks.cimt.pixels import as_grey, centred_patches, padded
from core.train.predict import autocast, resolve_device, resolve_precision, to_input

DEFAULT_TILE = {"cpu": 256, "cuda": 512}
"""Tile side (ROI pixels) by device type; a multiple of the network's stride (32)."""
HEAD_ROWS = 4096
"""Pixels per classifier chunk (fc6 input 4096 x 9216 floats, 151 MB)."""
REFERENCE_BATCH = 256
"""Patches per step of :func:`pixel_probabilities` (the per-pixel reference)."""


def dense_probabilities(model: nn.Module, grey: np.ndarray, roi, *, device: str = "auto",
                        precision: str = "fp32", tile: int | tuple[int, int] | None = None
                        ) -> np.ndarray:
    """Softmax probabilities (background, LI, MA) at every pixel of ``roi``.

    See :func:`dense_map` (the generator form, with progress) for the parameters.

    Returns
    -------
    (C, h, w) float32, ``h = row1 - row0``, ``w = col1 - col0``.
    """
    return drain(dense_map(model, grey, roi, device=device, precision=precision, tile=tile))


def dense_map(model: nn.Module, grey: np.ndarray, roi, *, device: str = "auto",
              precision: str = "fp32", tile: int | tuple[int, int] | None = None
              ) -> Generator[Progress, None, np.ndarray]:
    """Dense confidence map of ``roi``; yields ``Progress("dense map", tiles done, tiles)``.

    Parameters
    ----------
    model : nn.Module
        An AlexNet (either architecture) or its context network; the computation is the
        context network's (:func:`core.tasks.cimt.network.context_net`: same weights,
        no padding), in eval mode (dropout off). The model is not modified (neither its
        train/eval mode nor its device: on another device it is copied there).
    grey : (H, W) uint8, or (H, W, 3) with the grey repeated (see ``as_grey``)
    roi : (row0, col0, row1, col1) or a :class:`core.store.geometry.Box`
        Pixels ``row0 <= r < row1``, ``col0 <= c < col1``; any size of at least 1 x 1
        inside the image, whole-pixel bounds (patches reach past the image by the
        mirror rule of :func:`core.tasks.cimt.pixels.padded`).
    device : "auto" | "cpu" | "cuda"
        ``auto``: CUDA when present.
    precision : "fp32" | "bf16" | "auto"
        As the training engine (:func:`core.train.predict.resolve_precision`).
    tile : int or (rows, cols), optional
        Tile size in ROI pixels (rounded up to a multiple of the stride, 32); default
        :data:`DEFAULT_TILE` of the device.

    Returns
    -------
    (C, h, w) float32 probabilities, summing to 1 over C at each pixel.
    """
    g = as_grey(grey)
    r0, c0, r1, c1 = _check_roi(roi, g.shape)
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    plan = plan_of(model)
    if plan.device != dev:
        plan = plan_of(copy.deepcopy(model).to(dev))
    th, tw = _tile_shape(tile, dev, plan.stride)
    h, w = r1 - r0, c1 - c0
    tiles = [(a, b, min(th, h - a), min(tw, w - b))
             for a in range(0, h, th) for b in range(0, w, tw)]
    half = plan.side // 2
    # Mirrored margin for the patches, and for each tile rounded up to whole strides.
    ext_r = max(_round_up(t[2], plan.stride) - t[2] for t in tiles)
    ext_c = max(_round_up(t[3], plan.stride) - t[3] for t in tiles)
    big = padded(g, (half, half + ext_r, half, half + ext_c))
    out = np.empty((plan.n_classes, h, w), np.float32)
    msg = f"{h}x{w} ROI"
    yield Progress("dense map", 0, len(tiles), msg)
    for i, (a, b, hh, ww) in enumerate(tiles):
        hc, wc = _round_up(hh, plan.stride), _round_up(ww, plan.stride)
        rr, cc = r0 + a, c0 + b  # tile origin: image (rr, cc) is big's (rr + half, ...)
        block = big[rr:rr + hc + plan.side - 1, cc:cc + wc + plan.side - 1]
        # Grad mode and the TF32 flag are set per tile, never across a yield.
        with torch.no_grad(), _ieee_fp32(dev, prec):
            out[:, a:a + hh, b:b + ww] = _tile_probs(plan, block, hh, ww, dev, prec)
        yield Progress("dense map", i + 1, len(tiles), msg)
    return out


def pixel_probabilities(model: nn.Module, grey: np.ndarray, rows, cols, *,
                        device: str = "auto", precision: str = "fp32",
                        batch_size: int = REFERENCE_BATCH) -> np.ndarray:
    """Per-pixel classification, the definition the dense map is tested against.

    Each pixel's :func:`~core.tasks.cimt.pixels.centred_patches` patch, preprocessed by
    :func:`core.train.predict.to_input`, through :func:`~core.tasks.cimt.network.context_net`
    in eval mode, in batches of ``batch_size``; softmax of the logits.

    Returns
    -------
    (B, C) float32
    """
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    net = context_net(model)
    if next(net.parameters()).device != dev:
        net = context_net(copy.deepcopy(model).to(dev))
    rows = np.atleast_1d(np.asarray(rows))
    cols = np.atleast_1d(np.asarray(cols))
    g = as_grey(grey)
    side = plan_of(net).side
    was = net.training
    net.eval()  # as score_patches: the shared modules' mode is restored below
    out = []
    try:
        with torch.no_grad(), _ieee_fp32(dev, prec):
            for s in range(0, rows.size, batch_size):
                x = to_input(centred_patches(g, rows[s:s + batch_size], cols[s:s + batch_size],
                                             side), dev)
                with autocast(dev, prec):
                    logits = net(x)
                out.append(F.softmax(logits.float(), dim=1).cpu().numpy())
    finally:
        net.train(was)
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


# --------------------------------------------------------------------------- internals


@contextmanager
def _ieee_fp32(dev: torch.device, prec: str) -> Iterator[None]:
    """fp32 means IEEE fp32 on CUDA too: cuDNN convolutions default to TF32 (10-bit
    mantissa), which alone would move probabilities by more than 1e-4. The flag is
    process-wide; it is restored on exit."""
    if dev.type != "cuda" or prec != "fp32":
        yield
        return
    old = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32 = old


def _tile_probs(plan: Plan, block: np.ndarray, h: int, w: int, dev: torch.device,
                prec: str) -> np.ndarray:
    """(C, h, w) probabilities of the pixels whose patches start at ``block[:h, :w]``."""
    x = to_input(np.repeat(block[None, :, :, None], 3, axis=3), dev)
    offs_r = torch.zeros(1, dtype=torch.long)
    offs_c = torch.zeros(1, dtype=torch.long)
    scale = 1
    with autocast(dev, prec):
        for op in plan.ops:
            x = op.apply(x)
            if op.stride > 1:
                x, offs_r, offs_c = _split(x, offs_r, offs_c, op.stride, scale, h, w)
                scale *= op.stride
        probs = _head(plan, x)  # (Nr * Nc, k, l, C)
    k, ll, n_cls = probs.shape[1:]
    nr, nc = offs_r.numel(), offs_c.numel()
    rows = (offs_r[:, None] + scale * torch.arange(k)).reshape(-1)
    cols = (offs_c[:, None] + scale * torch.arange(ll)).reshape(-1)
    flat = probs.reshape(nr, nc, k, ll, n_cls).permute(4, 0, 2, 1, 3)
    flat = flat.reshape(n_cls, nr * k, nc * ll).cpu()
    full = torch.full((n_cls, int(rows.max()) + 1, int(cols.max()) + 1), float("nan"))
    full[:, rows[:, None], cols[None, :]] = flat
    res = full[:, :h, :w].numpy()
    if np.isnan(res).any():  # every ROI pixel comes from exactly one phase position
        raise AssertionError("internal error: a dense-map pixel was not computed")
    return res


def _split(x: torch.Tensor, offs_r: torch.Tensor, offs_c: torch.Tensor, s: int, scale: int,
           h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Space-to-batch by ``s``, dropping phases that only reach pixels past the ROI.

    ``x`` is (Nr * Nc, C, H, W), phase (i, j) at batch ``i * Nc + j``, its position
    ``u`` being the full-resolution (ROI) row ``offs_r[i] + scale * u``. A phase's later
    offsets only grow, so one whose offset is already ``>= h`` never yields an ROI pixel.
    """
    nr, nc = offs_r.numel(), offs_c.numel()
    _, ch, hh, ww = x.shape
    # Work in (N, H, W, C) memory order: the output is channels-last after one copy.
    x = x.permute(0, 2, 3, 1).reshape(nr, nc, hh // s, s, ww // s, s, ch)
    x = x.permute(0, 3, 1, 5, 2, 4, 6).reshape(nr * s, nc * s, hh // s, ww // s, ch)
    new_r = (offs_r[:, None] + scale * torch.arange(s)).reshape(-1)
    new_c = (offs_c[:, None] + scale * torch.arange(s)).reshape(-1)
    keep_r, keep_c = new_r < h, new_c < w
    if not bool(keep_r.all()):
        x = x[keep_r.to(x.device)]
    if not bool(keep_c.all()):
        x = x[:, keep_c.to(x.device)]
    x = x.reshape(-1, hh // s, ww // s, ch).permute(0, 3, 1, 2)
    return x, new_r[keep_r], new_c[keep_c]


def _head(plan: Plan, x: torch.Tensor) -> torch.Tensor:
    """The classifier on every ``grid x grid`` window of each phase: (N, k, l, C).

    fc6 as a ``grid x grid`` convolution, by im2col: each window's values ordered
    channel-major then row, column, as ``flatten`` orders pool5's output for fc6.
    """
    n, ch, hh, ww = x.shape
    g = plan.grid
    k, ll = hh - g + 1, ww - g + 1
    step = max(1, HEAD_ROWS // (k * ll))
    out = []
    for s in range(0, n, step):
        win = x[s:s + step].unfold(2, g, 1).unfold(3, g, 1)  # (n, C, k, l, g, g) view
        rows = win.permute(0, 2, 3, 1, 4, 5).reshape(-1, ch * g * g)
        logits = plan.head(rows)
        out.append(F.softmax(logits.float(), dim=1).reshape(-1, k, ll, logits.shape[1]))
    return torch.cat(out)


def _check_roi(roi, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    vals = tuple(getattr(roi, a) for a in ("row0", "col0", "row1", "col1")) \
        if hasattr(roi, "row0") else tuple(roi)
    if len(vals) != 4:
        raise ValueError(f"an ROI is (row0, col0, row1, col1), got {roi!r}")
    if not all(np.isfinite(v) and float(v) == int(v) for v in vals):
        raise ValueError(f"ROI bounds must be whole pixels, got {vals}")
    r0, c0, r1, c1 = (int(v) for v in vals)
    hgt, wid = shape
    if r1 <= r0 or c1 <= c0:
        raise ValueError(f"the ROI is empty: rows {r0}..{r1}, cols {c0}..{c1} "
                         f"(the smallest ROI is 1x1 pixel)")
    if r0 < 0 or c0 < 0 or r1 > hgt or c1 > wid:
        raise ValueError(f"the ROI rows {r0}..{r1}, cols {c0}..{c1} reach outside the "
                         f"{hgt}x{wid} image")
    return r0, c0, r1, c1


def _tile_shape(tile, dev: torch.device, stride: int) -> tuple[int, int]:
    if tile is None:
        tile = DEFAULT_TILE.get(dev.type, DEFAULT_TILE["cpu"])
    th, tw = (tile, tile) if isinstance(tile, (int, np.integer)) else tuple(tile)
    if th < 1 or tw < 1:
        raise ValueError(f"the tile size must be positive, got {tile!r}")
    return _round_up(int(th), stride), _round_up(int(tw), stride)


def _round_up(n: int, m: int) -> int:
    return int(math.ceil(n / m)) * m
