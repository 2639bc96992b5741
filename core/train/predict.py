"""Scoring: the one function that turns patches into per-item class probabilities.

Validation during training and evaluation on the test set go through
:func:`score_patches` with the same precision rule (:func:`stage_precisions`), so a
run's validation and test numbers are computed alike. A patch's probabilities are the
softmax of the network's logits; an item's are the mean over its patches (SPEC §1.3).

On a CPU in fp32 the result is bit-for-bit repeatable: same model, same dataset, same
batch size give the same probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.events import Progress
from core.train.model import schedule, split_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")
SCORE_BATCH = 64  # patches per scoring step (fixed: results depend on it in the last bits)


def resolve_device(device: str = "auto") -> torch.device:
    if device not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("CUDA was asked for but no CUDA GPU is available; use --device cpu")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def cpu_has_fast_bf16() -> bool:
    """True where the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:
        return False


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto``: bf16 mixed precision where the hardware runs it fast, else fp32."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def stage_precisions(device: torch.device, precision: str, depth: str) -> tuple[str, str]:
    """(frozen trunk, tuned head) precisions of a run at ``depth``.

    A head of fc layers only is memory-bound on a CPU: bf16 autocast adds casts of the
    58 M weights every step and is slower there than fp32 (measured), so the frozen
    trunk keeps the fast precision and such a head runs in fp32.
    """
    head = precision
    if device.type == "cpu" and schedule(depth).first_tuned in ("fc6", "fc7", "fc8"):
        head = "fp32"
    return precision, head


def autocast(device: torch.device, precision: str):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def to_input(batch: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 (B, H, W, 3) RGB -> float (B, 3, H, W) ImageNet-normalised, channels-last.

    Permuting NHWC to NCHW gives channels-last strides for free; oneDNN and cuDNN run
    convolutions fastest in that layout.
    """
    t = torch.as_tensor(batch).to(device, non_blocking=True)
    x = t.permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std).contiguous(memory_format=torch.channels_last)


def item_probs(items: np.ndarray, patch_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean patch probabilities per item.

    Parameters
    ----------
    items : (P,) int
        Item of each patch.
    patch_probs : (P, C) float

    Returns
    -------
    (K,) int64 sorted unique items, (K, C) float64 mean probabilities.
    """
    patch_probs = np.asarray(patch_probs, np.float64)
    if patch_probs.ndim == 1:
        patch_probs = patch_probs[:, None]
    uniq, inv = np.unique(np.asarray(items, np.int64), return_inverse=True)
    sums = np.zeros((len(uniq), patch_probs.shape[1]))
    np.add.at(sums, inv, patch_probs)
    return uniq, sums / np.bincount(inv, minlength=len(uniq))[:, None]


def positive_scores(probs: np.ndarray, positive: tuple[int, ...]) -> np.ndarray:
    """(N,) probability of the merged positive class(es) from (N, C) probabilities."""
    return np.asarray(probs, np.float64)[:, list(positive)].sum(axis=1)


def score_patches(head: nn.Module, get_input: Callable[[np.ndarray], torch.Tensor], n: int, *,
                  device: torch.device, precision: str, batch_size: int = SCORE_BATCH,
                  stage: str = "scoring") -> Generator[Progress, None, np.ndarray]:
    """Softmax probabilities of ``n`` patches, in chunks of ``batch_size``.

    ``get_input(idx)`` gives ``head``'s input for patches ``idx`` (cached trunk features,
    or the trunk run on the rendered patches). ``head`` runs in eval mode under
    ``precision`` autocast; its previous mode is restored. Yields progress per chunk,
    so a cancel request is honoured within a chunk.

    Returns
    -------
    (n, C) float32
    """
    was = head.training
    head.eval()
    out = []
    try:
        with torch.no_grad():
            for s in range(0, n, batch_size):
                idx = np.arange(s, min(s + batch_size, n))
                with autocast(device, precision):
                    logits = head(get_input(idx))
                out.append(F.softmax(logits.float(), dim=1).cpu().numpy())
                yield Progress(stage, int(idx[-1]) + 1, n, "scoring")
    finally:
        head.train(was)
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def predict(model: nn.Module, dataset, *, depth: str = "scratch", device: str = "auto",
            precision: str = "auto", batch_size: int = SCORE_BATCH, features=None
            ) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """Class probabilities of every item of ``dataset`` under ``model`` (eval mode).

    The model runs as (frozen trunk, tuned head) of ``depth`` with the precisions of
    :func:`stage_precisions`, exactly as the training engine validates. ``features``
    (e.g. :meth:`core.experiments.cache.SharedCache.features`) gives the frozen trunk's
    outputs of the whole dataset, computed once for the runs of an experiment that share
    the pretrained layers.

    Returns
    -------
    items : (K,) int64
        The dataset's items, sorted.
    probs : (K, C) float64
        Mean softmax probability of each class over each item's patches.
    """
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    trunk_prec, head_prec = stage_precisions(dev, prec, depth)
    model = model.to(dev).to(memory_format=torch.channels_last).eval()
    trunk, head = split_model(model, schedule(depth))
    if features is not None and len(trunk):
        feats = yield from features(trunk, dataset, np.arange(len(dataset)), dev, trunk_prec)
        p = yield from score_patches(head, lambda idx: feats[torch.as_tensor(idx)],
                                     len(dataset), device=dev, precision=head_prec,
                                     batch_size=batch_size)
        return item_probs(dataset.items, p)

    def get_input(idx):
        x = to_input(dataset.batch(idx), dev)
        if len(trunk) == 0:
            return x
        with torch.no_grad(), autocast(dev, trunk_prec):
            return trunk(x).float()

    p = yield from score_patches(head, get_input, len(dataset), device=dev,
                                 precision=head_prec, batch_size=batch_size)
    return item_probs(dataset.items, p)
