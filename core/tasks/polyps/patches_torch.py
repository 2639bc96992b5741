"""Test-time scoring of polyp candidates, the augmented patches built on the device.

SPEC §1.3: a candidate's score is the mean probability over *all* its patches (216 per
candidate by default, :mod:`core.tasks.polyps.patches`). Rendering them one by one on
the CPU and feeding the network one at a time is what makes that slow;
:func:`score_candidates` instead builds each batch of patches on the model's device
(frames uploaded once per batch; each distinct un-oriented patch interpolated by a
batched bilinear gather, rounded to grey levels and ImageNet-normalised once; its 8
orientations then made by one exact pixel gather, already in the channels-last layout
the convolutions want) and feeds the batch straight to the network. On a 2-core CPU
this removed the 40 % of the time that per-patch rotation, flips and normalisation took.

Agreement with the CPU renderer (:func:`core.tasks.polyps.patches.render_patches`): both
use the same float64 taps (:func:`~core.tasks.polyps.patches.axis_taps`) and the same
float32 products and sums in the same order, then round half to even, so the patches
are identical on a CPU (tested: bit-for-bit); on a GPU a pixel may differ by at most 1
grey level where a value lies within float32 rounding of a half. Fed identical patches,
the scores equal :func:`core.train.predict.predict`'s on the CPU dataset within 1e-5
(the batches are the same; only the last bits of the network's arithmetic can differ).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

import numpy as np
import torch
from torch import nn

from core.events import Progress
from core.tasks.polyps.patches import (
    N_ORIENTATIONS,
    CandidatePatchSpecs,
    axis_taps,
    base_keys,
    frame_shapes,
    orient,
)
from core.train.model import layer_module, schedule, split_model
from core.train.predict import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    SCORE_BATCH,
    autocast,
    item_probs,
    resolve_device,
    resolve_precision,
    score_patches,
    stage_precisions,
    to_input,
)

SCORE_TOLERANCE = 1e-5
"""Largest difference of a candidate's mean probability between :func:`score_candidates`
and the CPU path fed the same patches (checked by the tests and bench_tta)."""
PIXEL_TOLERANCE = 1
"""Largest difference, in grey levels, between device- and CPU-rendered patches."""


class DevicePatchRenderer:
    """Renders patches of ``specs`` from ``images`` as uint8 tensors on ``device``.

    Parameters
    ----------
    images : (F, H, W, 3) uint8 or list of (H, W, 3) uint8
        Frames the specs refer to (sizes may differ in a list).
    specs : CandidatePatchSpecs
    device : torch.device

    On a CPU device a frame stack is used in place (no copy); otherwise the frames a
    batch needs are stacked (zero-padded to the largest; the taps never reach the
    padding) and uploaded, and kept while the next batch needs the same frames.
    """

    def __init__(self, images, specs: CandidatePatchSpecs, device: torch.device) -> None:
        self.images, self.specs, self.device = images, specs, torch.device(device)
        self.shapes = frame_shapes(images)
        if len(specs) and specs.source.max() >= len(self.shapes):
            raise ValueError(f"a patch's source frame is beyond the {len(self.shapes)} "
                             "frames given")
        self._whole = None
        if isinstance(images, np.ndarray) and self.device.type == "cpu":
            self._whole = torch.from_numpy(np.ascontiguousarray(images))
        self._key: tuple[int, ...] | None = None
        self._stack: torch.Tensor | None = None

    def _frames(self, sources: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """(frame stack on the device, position of each of ``sources`` in it)."""
        if self._whole is not None:
            return self._whole, sources
        uniq, local = np.unique(sources, return_inverse=True)
        key = tuple(int(f) for f in uniq)
        if key != self._key:
            h, w = self.shapes[uniq].max(axis=0)
            stack = np.zeros((len(uniq), h, w, 3), np.uint8)
            for j, f in enumerate(uniq):
                im = self.images[f]
                stack[j, :im.shape[0], :im.shape[1]] = im
            self._stack = torch.from_numpy(stack).to(self.device)
            self._key = key
        assert self._stack is not None
        return self._stack, local.reshape(-1)

    def _bases(self, idx: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """(distinct un-oriented patches of ``idx`` as rounded float32 (Bb, N, N, 3),
        the base of each patch of ``idx``)."""
        sp, n, dev = self.specs, self.specs.size, self.device
        first, inv = base_keys(sp, idx)
        b = idx[first]
        src = sp.source[b]
        frames, local = self._frames(src)
        ry = axis_taps(sp.center[b, 0], sp.side[b], n, self.shapes[src, 0])
        cx = axis_taps(sp.center[b, 1], sp.side[b], n, self.shapes[src, 1])
        r0, r1, wr0, wr1 = (torch.from_numpy(t).to(dev) for t in ry)
        c0, c1, wc0, wc1 = (torch.from_numpy(t).to(dev) for t in cx)
        s = torch.from_numpy(np.ascontiguousarray(local, np.int64)).to(dev)[:, None, None]

        def tap(r: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            return frames[s, r[:, :, None], c[:, None, :]].float()  # (Bb, N, N, 3)

        # the same products and sums, in the same order, as the CPU renderer
        wc0, wc1 = wc0[:, None, :, None], wc1[:, None, :, None]
        upper = tap(r0, c0) * wc0 + tap(r0, c1) * wc1
        lower = tap(r1, c0) * wc0 + tap(r1, c1) * wc1
        out = upper * wr0[:, :, None, None] + lower * wr1[:, :, None, None]
        return out.round_().clamp_(0, 255), inv

    def render(self, idx) -> torch.Tensor:
        """(B, N, N, 3) uint8 tensor on the device: patches ``idx`` of the specs."""
        idx = np.asarray(idx, np.int64).reshape(-1)
        n = self.specs.size
        if not len(idx):
            return torch.empty((0, n, n, 3), dtype=torch.uint8, device=self.device)
        base, inv = self._bases(idx)
        return orient_batch(base.to(torch.uint8), inv, self.specs.orientation[idx])

    def render_input(self, idx) -> torch.Tensor:
        """The network's input for patches ``idx``: equal, bit for bit, to
        ``core.train.predict.to_input(self.render(idx), device)``, but normalised on
        the distinct base patches (one in 8 with every orientation) before they are
        oriented. (B, 3, N, N) float32, channels-last."""
        idx = np.asarray(idx, np.int64).reshape(-1)
        if not len(idx):
            n = self.specs.size
            return torch.empty((0, n, n, 3), device=self.device).permute(0, 3, 1, 2)
        base, inv = self._bases(idx)
        mean, std = (torch.tensor(v, device=self.device) for v in (IMAGENET_MEAN, IMAGENET_STD))
        base = base.div_(255.0).sub_(mean).div_(std)  # to_input's operations, in its order
        return orient_batch(base, inv, self.specs.orientation[idx]).permute(0, 3, 1, 2)


_PERMS: dict[tuple[int, str], torch.Tensor] = {}


def _orientation_perms(n: int, device: torch.device) -> torch.Tensor:
    """(8, n*n) int64: orientation ``k`` of a patch is ``base.flat[perm[k]]``."""
    key = (n, str(device))
    if key not in _PERMS:
        grid = np.arange(n * n, dtype=np.int64).reshape(n, n)
        _PERMS[key] = torch.from_numpy(np.stack([orient(grid, k).ravel()
                                                 for k in range(N_ORIENTATIONS)])).to(device)
    return _PERMS[key]


def orient_batch(base: torch.Tensor, inv: np.ndarray, orientation: np.ndarray
                 ) -> torch.Tensor:
    """Patch ``i`` = orientation ``orientation[i]`` of ``base[inv[i]]``, (B, N, N, C).

    Orientation ``k``: ``rot90^(k % 4)`` then a left-right flip when ``k >= 4``, as
    :func:`core.tasks.polyps.patches.orient`; done as one gather of whole pixels.
    """
    bb, n, _, c = base.shape
    perm = _orientation_perms(n, base.device)
    k = torch.from_numpy(np.asarray(orientation, np.int64)).to(base.device)
    off = torch.from_numpy(np.asarray(inv, np.int64) * (n * n)).to(base.device)
    flat = (perm[k] + off[:, None]).reshape(-1)
    return base.reshape(bb * n * n, c).index_select(0, flat).reshape(len(inv), n, n, c)


def score_candidates(model: nn.Module, images, specs: CandidatePatchSpecs, *,
                     depth: str = "scratch", device: str = "auto", precision: str = "auto",
                     batch_size: int = SCORE_BATCH
                     ) -> Generator[Progress, None, np.ndarray]:
    """Class probabilities of every candidate: the mean over all its patches.

    The model runs as (frozen trunk, tuned head) of ``depth`` with the precisions of
    :func:`core.train.predict.stage_precisions`, exactly as ``predict`` and the training
    engine's validation; the patches of each batch of ``batch_size`` are built on the
    model's device by :class:`DevicePatchRenderer`. Every module's train/eval mode is
    restored afterwards (the model stays on the device it was moved to).

    Parameters
    ----------
    model : torch.nn.Module
        AlexNet (:func:`core.train.model.build_alexnet`).
    images : (F, H, W, 3) uint8 or list of (H, W, 3) uint8
        The candidates' frames (RGB).
    specs : CandidatePatchSpecs
    depth, device, precision, batch_size
        As :func:`core.train.predict.predict`.

    Returns
    -------
    (K, C) float64, ``K = specs.n_items``
        Mean softmax probability of each class over each candidate's patches; NaN rows
        for candidates with no patch in ``specs``.
    """
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    trunk_prec, head_prec = stage_precisions(dev, prec, depth)
    modes = [(m, m.training) for m in model.modules()]
    model = model.to(dev).to(memory_format=torch.channels_last).eval()
    trunk, head = split_model(model, schedule(depth))
    renderer = DevicePatchRenderer(images, specs, dev)

    def get_input(idx: np.ndarray) -> torch.Tensor:
        x = renderer.render_input(idx)
        if len(trunk) == 0:
            return x
        with torch.no_grad(), autocast(dev, trunk_prec):
            return trunk(x).float()

    try:
        p = yield from score_patches(head, get_input, len(specs), device=dev,
                                     precision=head_prec, batch_size=batch_size,
                                     stage="candidates")
    finally:
        for m, was in modes:
            m.training = was
    out = np.full((specs.n_items, layer_module(model, "fc8").out_features), np.nan)
    if len(specs):
        items, probs = item_probs(specs.item, p)
        out[items] = probs
    return out


def candidate_scores_per_patch(model: nn.Module, images, specs: CandidatePatchSpecs, *,
                               device: str = "cpu", precision: str = "fp32",
                               patches: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """The plain reference: each patch built and scored on its own (batch of one).

    Builds patch ``i`` with :class:`DevicePatchRenderer` (or takes ``patches[i]``), runs
    the whole model on it, and averages the softmax probabilities per candidate in
    float64. For the benchmark and the tests only; ``score_candidates`` is the real path.

    Returns
    -------
    (K, C) float64
    """
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    modes = [(m, m.training) for m in model.modules()]
    model = model.to(dev).to(memory_format=torch.channels_last).eval()
    renderer = DevicePatchRenderer(images, specs, dev)
    sums = np.zeros((specs.n_items, layer_module(model, "fc8").out_features))
    counts = np.zeros(specs.n_items)
    try:
        with torch.no_grad():
            for i in range(len(specs)):
                patch = renderer.render([i]) if patches is None else patches[i][None]
                with autocast(dev, prec):
                    logits = model(to_input(patch, dev))
                sums[specs.item[i]] += torch.softmax(logits.float(), 1)[0].cpu().numpy()
                counts[specs.item[i]] += 1
    finally:
        for m, was in modes:
            m.training = was
    with np.errstate(invalid="ignore"):
        return sums / counts[:, None]
