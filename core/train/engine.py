"""The training engine: fine-tune AlexNet at a depth, as a generator of events.

The shape follows torchvision's reference ``train_one_epoch`` / ``evaluate`` loop, but
yields :mod:`core.events` records instead of printing, so the same code drives the
CLI's progress bar and the GUI's worker thread. Cancelling is closing the generator
(``gen.close()``) between two batches; the best snapshot already on disk stays.

Protocol (SPEC §1.2-1.3): stratified training patches, an 80/20 split grouped by video,
item-level validation AUC every epoch (and every ``val_every`` iterations), the
snapshot with the best validation AUC kept, early stop after ``patience`` epochs
without improvement, Table II rates decayed by gamma each epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import __version__
from core.events import BatchEnd, EpochEnd, Notice, Progress, Scored, SnapshotSaved, Validated
from core.stats import auc as roc_auc
from core.train.checkpoint import save_snapshot
from core.train.model import (
    DEPTHS,
    INITS,
    Schedule,
    build_alexnet,
    initialise,
    make_optimizer,
    schedule,
    set_epoch_rates,
    set_train_mode,
    split_model,
)
from core.train.sampling import grouped_split, stratify

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRECISIONS = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    """Every parameter of one training run (defaults: paper / SPEC)."""

    depth: str = "fc8"
    init: str = "gaussian"
    epochs: int = 30
    batch_size: int = 32
    patience: int = 5
    val_fraction: float = 0.2
    val_every: int = 0  # iterations between extra validations; 0: once per epoch
    base_lr: float = 0.001
    fc8_lr: float | None = None  # None: Table II (0.01 fine-tuning, 0.001 scratch)
    bias_factor: float = 2.0
    momentum: float = 0.9
    gamma: float = 0.95
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    cache_features: bool = True
    cache_limit_mb: int = 4096
    max_iterations: int = 0  # stop after this many steps (0: no limit); for benchmarks

    def __post_init__(self) -> None:
        if self.depth not in DEPTHS:
            raise ValueError(f"unknown depth {self.depth!r}; choose one of {', '.join(DEPTHS)}")
        if self.init not in INITS:
            raise ValueError(f"unknown init {self.init!r}; choose one of {', '.join(INITS)}")
        if self.device not in DEVICES:
            raise ValueError(f"unknown device {self.device!r}; choose one of {', '.join(DEVICES)}")
        if self.precision not in PRECISIONS:
            raise ValueError(
                f"unknown precision {self.precision!r}; choose one of {', '.join(PRECISIONS)}")
        if self.epochs < 1 or self.batch_size < 1 or self.patience < 1:
            raise ValueError("epochs, batch_size and patience must be at least 1")

    def schedule(self) -> Schedule:
        return schedule(self.depth, base_lr=self.base_lr, fc8_lr=self.fc8_lr,
                        bias_factor=self.bias_factor, momentum=self.momentum, gamma=self.gamma)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainResult:
    best_auc: float
    best_epoch: int
    best_iteration: int
    snapshot: str | None
    epochs_run: int
    iterations: int
    stopped: str  # "patience" | "epochs" | "max_iterations"
    history: list[dict] = field(default_factory=list)
    device: str = "cpu"
    precision: str = "fp32"
    model: nn.Module | None = None


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
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


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


def _autocast(device: torch.device, precision: str):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


class _Inputs:
    """Feeds the tuned head: cached trunk features, or the trunk run per batch."""

    def __init__(self, datasets, trunk: nn.Module, device, precision, cache: bool,
                 batch_size: int):
        self.datasets, self.trunk, self.device, self.precision = datasets, trunk, device, precision
        self.cache: dict[str, torch.Tensor] = {}
        self.use_cache = cache and len(trunk) > 0
        self.batch_size = batch_size

    def _run_trunk(self, ds, idx) -> torch.Tensor:
        x = to_input(ds.batch(idx), self.device)
        if len(self.trunk) == 0:
            return x
        with torch.no_grad(), _autocast(self.device, self.precision):
            return self.trunk(x).float()

    def build(self) -> Generator[Progress, None, None]:
        if not self.use_cache:
            return
        total = sum(len(ds) for ds in self.datasets.values())
        done = 0
        for name, ds in self.datasets.items():
            chunks = []
            for s in range(0, len(ds), 64):
                idx = np.arange(s, min(s + 64, len(ds)))
                chunks.append(self._run_trunk(ds, idx))
                done += len(idx)
                yield Progress("features", done, total, "caching frozen-layer features")
            self.cache[name] = torch.cat(chunks) if chunks else torch.empty(0)

    def get(self, name: str, idx: np.ndarray) -> torch.Tensor:
        if self.use_cache:
            return self.cache[name][torch.as_tensor(idx, device=self.cache[name].device)]
        return self._run_trunk(self.datasets[name], idx)


def _positive_prob(logits: torch.Tensor, positive: tuple[int, ...]) -> torch.Tensor:
    return F.softmax(logits.float(), dim=1)[:, list(positive)].sum(1)


def item_scores(items: np.ndarray, patch_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean patch probability per item: (unique items, scores)."""
    uniq, inv = np.unique(items, return_inverse=True)
    sums = np.bincount(inv, weights=patch_probs, minlength=len(uniq))
    return uniq, sums / np.bincount(inv, minlength=len(uniq))


def _evaluate(head, inputs: _Inputs, name, ds, positive, batch_size, device, precision
              ) -> Generator[Progress, None, tuple]:
    """(items, item scores, item labels, mean loss) of ``ds`` under the current head.

    Yields progress per chunk so a cancel request is honoured within a chunk.
    """
    probs, losses = [], []
    head_was = head.training
    head.eval()
    step = batch_size  # small chunks: a cancel waits at most one chunk
    with torch.no_grad():
        for s in range(0, len(ds), step):
            idx = np.arange(s, min(s + step, len(ds)))
            with _autocast(device, precision):
                logits = head(inputs.get(name, idx)).float()
            y = torch.as_tensor(ds.labels[idx], device=device)
            losses.append(F.cross_entropy(logits, y, reduction="sum").item())
            probs.append(_positive_prob(logits, positive).cpu().numpy())
            yield Progress(name.split(":")[-1], int(idx[-1]) + 1, len(ds), "scoring")
    head.train(head_was)
    p = np.concatenate(probs) if probs else np.zeros(0)
    items, scores = item_scores(ds.items, p)
    is_pos = np.isin(ds.labels, positive).astype(np.int64)
    _, first = np.unique(ds.items, return_index=True)
    return items, scores, is_pos[first], sum(losses) / max(len(ds), 1)


def _safe_auc(scores, labels) -> float:
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc(scores, labels))


def train(
    dataset,
    config: TrainConfig,
    *,
    pretrained: Mapping[str, torch.Tensor] | None = None,
    out_dir: str | Path | None = None,
    n_classes: int = 2,
    positive: tuple[int, ...] = (1,),
    preview: Mapping[str, object] | None = None,
    split: tuple[np.ndarray, np.ndarray] | None = None,
    keep_model: bool = False,
) -> Generator[object, None, TrainResult]:
    """Train on ``dataset`` (a :mod:`core.train.patches` dataset); yields events.

    Parameters
    ----------
    dataset
        Patches with ``labels``, ``items``, ``groups`` and ``batch(idx)``.
    config : TrainConfig
    pretrained : state dict, optional
        torchvision ImageNet AlexNet weights. Required for every depth but ``scratch``:
        training refuses to start without them rather than train from random weights.
    out_dir : path, optional
        Where ``best.pt`` / ``best.json`` go (nothing is written when None).
    positive : classes merged into the positive class for AUC (SPEC §1.3).
    preview : {name: dataset}, optional
        Sets scored with every new best model (yielded as :class:`Scored`).
    split : (train_idx, val_idx), optional
        A fixed split instead of the grouped 80/20 one.
    """
    if config.depth != "scratch" and pretrained is None:
        from core.train.weights import WeightsMissingError, missing_message

        raise WeightsMissingError(
            f"Fine-tuning at depth {config.depth!r} needs the ImageNet-pretrained weights.\n"
            + missing_message()
        )
    rng = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)  # dropout masks; recorded with the run
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    sched = config.schedule()

    # ---- data: grouped 80/20 split, then stratify the training side
    if split is None:
        train_idx, val_idx = grouped_split(dataset.groups, dataset.labels, config.val_fraction, rng)
    else:
        train_idx, val_idx = (np.asarray(a, dtype=np.int64) for a in split)
    train_idx = train_idx[stratify(dataset.labels[train_idx], rng)]
    train_ds, val_ds = dataset.subset(train_idx), dataset.subset(val_idx)
    yield Notice(f"{len(train_ds)} training patches (balanced), {len(val_ds)} validation "
                 f"patches; {device.type}, {precision}")

    # ---- model
    gen = torch.Generator().manual_seed(config.seed)
    model = build_alexnet(n_classes, None if config.depth == "scratch" else dict(pretrained))
    if config.depth == "scratch":
        initialise(model, config.init, generator=gen)
    else:
        nn.init.normal_(model.classifier[6].weight, 0.0, 0.01, generator=gen)
    model = model.to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, sched)
    trunk, head = split_model(model, sched)

    # ---- frozen-layer features: cached once when they fit (exact: frozen = eval mode)
    datasets = {"train": train_ds, "val": val_ds, **{f"preview:{k}": v for k, v in (preview or {}).items()}}
    use_cache = config.cache_features and len(trunk) > 0
    if use_cache:
        with torch.no_grad():
            probe = trunk.eval()(to_input(train_ds.batch(np.arange(1)), device))
        need_mb = probe[0].numel() * 4 * sum(len(d) for d in datasets.values()) / 2**20
        if need_mb > config.cache_limit_mb:
            use_cache = False
            yield Notice(f"frozen-layer cache would need {need_mb:.0f} MB; running the "
                         "frozen layers every step instead", "warning")
    set_train_mode(model, sched, True)
    inputs = _Inputs(datasets, trunk, device, precision, use_cache, config.batch_size)
    # A head of fc layers only is memory-bound on a CPU: bf16 autocast adds casts of
    # the 58 M weights every step and is slower there than fp32 (measured), so the
    # frozen trunk keeps the fast precision and such a head runs in fp32.
    head_precision = precision
    if device.type == "cpu" and sched.first_tuned in ("fc6", "fc7", "fc8"):
        head_precision = "fp32"
    yield from inputs.build()

    # ---- loop
    n = len(train_ds)
    steps_per_epoch = math.ceil(n / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    if config.max_iterations:
        total_steps = min(total_steps, config.max_iterations)
    out = Path(out_dir) if out_dir is not None else None
    # "crit" ranks snapshots: the validation AUC, or minus the validation loss when the
    # validation set holds a single class (AUC undefined); "auc" is what is reported
    best = {"crit": -math.inf, "auc": float("nan"), "epoch": -1, "iteration": -1,
            "snapshot": None}
    history: list[dict] = []
    it, t0, stale, stopped = 0, time.perf_counter(), 0, "epochs"
    perm_gen = torch.Generator().manual_seed(config.seed + 1)

    def validate(epoch: int):
        items, scores, labels, vloss = yield from _evaluate(
            head, inputs, "val", val_ds, positive, config.batch_size, device, head_precision)
        auc_v = _safe_auc(scores, labels)
        crit = auc_v if not math.isnan(auc_v) else -vloss
        is_best = crit > best["crit"]
        if is_best:
            best.update(crit=crit, auc=auc_v, epoch=epoch, iteration=it)
        yield Validated(epoch, it, auc_v, vloss, is_best, best["auc"])
        if is_best:
            if out is not None:
                meta = {"depth": config.depth, "epoch": epoch, "iteration": it,
                        "val_auc": auc_v, "val_loss": vloss, "config": config.to_dict(),
                        "n_classes": n_classes, "positive": list(positive),
                        "layertune": __version__, "torch": torch.__version__}
                path = save_snapshot(out / "best.pt", model.state_dict(), meta)
                best["snapshot"] = str(path)
                yield SnapshotSaved(str(path), epoch, it, auc_v)
            for name in datasets:
                if name.startswith("preview:"):
                    p_items, p_scores, _, _ = yield from _evaluate(
                        head, inputs, name, datasets[name], positive, config.batch_size,
                        device, head_precision)
                    yield Scored(name.split(":", 1)[1], p_items, p_scores, epoch)
        return auc_v, is_best

    for epoch in range(config.epochs):
        set_epoch_rates(optimizer, sched, epoch)
        set_train_mode(model, sched, True)
        order = torch.randperm(n, generator=perm_gen).numpy()
        epoch_loss, seen = 0.0, 0
        for s in range(0, n, config.batch_size):
            idx = order[s:s + config.batch_size]
            tb = time.perf_counter()
            x = inputs.get("train", idx)
            y = torch.as_tensor(dataset_labels(train_ds, idx), device=device)
            with _autocast(device, head_precision):
                logits = head(x)
            loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            it += 1
            lv = loss.item()
            epoch_loss += lv * len(idx)
            seen += len(idx)
            dt = time.perf_counter() - tb
            yield BatchEnd(epoch, it, lv, optimizer.param_groups[-1]["lr"],
                           len(idx) / max(dt, 1e-9), it, total_steps, time.perf_counter() - t0)
            if config.val_every and it % config.val_every == 0 and s + config.batch_size < n:
                yield from validate(epoch)
                set_train_mode(model, sched, True)
            if config.max_iterations and it >= config.max_iterations:
                break
        auc_v, is_best = yield from validate(epoch)
        stale = 0 if is_best else stale + 1
        elapsed = time.perf_counter() - t0
        eta = elapsed / it * (total_steps - it) if it else 0.0
        history.append({"epoch": epoch, "iteration": it, "train_loss": epoch_loss / max(seen, 1),
                        "val_auc": auc_v, "elapsed_s": elapsed})
        yield EpochEnd(epoch, epoch_loss / max(seen, 1), auc_v, best["auc"], best["epoch"],
                       elapsed, eta)
        if config.max_iterations and it >= config.max_iterations:
            stopped = "max_iterations"
            break
        if stale >= config.patience:
            stopped = "patience"
            yield Notice(f"validation AUC has not improved for {stale} epochs; stopping "
                         f"(best {best['auc']:.3f} at epoch {best['epoch'] + 1})")
            break

    return TrainResult(best_auc=best["auc"], best_epoch=best["epoch"],
                       best_iteration=best["iteration"], snapshot=best["snapshot"],
                       epochs_run=len(history), iterations=it, stopped=stopped,
                       history=history, device=device.type, precision=precision,
                       model=model if keep_model else None)


def dataset_labels(ds, idx) -> np.ndarray:
    return np.asarray(ds.labels[idx], dtype=np.int64)


def score_dataset(model: nn.Module, dataset, *, positive=(1,), batch_size: int = 64,
                  device: str = "auto", precision: str = "fp32"
                  ) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray]]:
    """Score every patch with ``model`` (eval mode) and average per item.

    Returns (items, scores) with scores the mean positive-class probability.
    """
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    model = model.to(dev).eval()
    probs = []
    with torch.no_grad():
        for s in range(0, len(dataset), batch_size):
            idx = np.arange(s, min(s + batch_size, len(dataset)))
            with _autocast(dev, prec):
                logits = model(to_input(dataset.batch(idx), dev))
            probs.append(_positive_prob(logits, tuple(positive)).cpu().numpy())
            yield Progress("scoring", idx[-1] + 1, len(dataset), "scoring patches")
    p = np.concatenate(probs) if probs else np.zeros(0)
    return item_scores(dataset.items, p)
