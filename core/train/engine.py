"""The training engine: fine-tune AlexNet at a depth, as a generator of events.

The shape follows torchvision's reference ``train_one_epoch`` / ``evaluate`` loop, but
yields :mod:`core.events` records instead of printing, so the same code drives the
CLI's progress bar and the GUI's worker thread. Cancelling is closing the generator
(``gen.close()``) between two batches; the best snapshot already on disk stays.

Protocol (SPEC §1.2-1.3): stratified training patches, an 80/20 split grouped by video,
item-level validation AUC every epoch (and every ``val_every`` iterations), the
snapshot with the best validation AUC kept, early stop after ``patience`` epochs
without improvement, Table II rates decayed by gamma each epoch.

Validation scores through :func:`core.train.predict.score_patches`, the function the
test evaluation uses, at the same precision. Every new best model is its own snapshot
file (``epoch-003-it-000120.pt``: epoch counted from 1) replacing the previous best; when
training ends on a model that is not the best, it is kept too (``last-epoch-...pt``).
A fine-tuned run's snapshots hold only its tuned layers (see :mod:`core.train.checkpoint`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core import __version__
from core.events import BatchEnd, EpochEnd, Notice, Progress, Scored, SnapshotSaved, Validated
from core.stats import auc as roc_auc
from core.train.checkpoint import disk_usage, save_snapshot
from core.train.model import (
    ARCHS,
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
from core.train.predict import (  # noqa: F401  (re-exported: benchmarks, callers)
    DEVICES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    PRECISIONS,
    SCORE_BATCH,
    autocast,
    cpu_has_fast_bf16,
    item_probs,
    positive_scores,
    predict,
    resolve_device,
    resolve_precision,
    score_patches,
    stage_precisions,
    to_input,
)
from core.train.sampling import grouped_split, stratify


@dataclass(frozen=True)
class TrainConfig:
    """Every parameter of one training run (defaults: paper / SPEC)."""

    depth: str = "fc8"
    init: str = "caffe"
    arch: str = "torchvision"  # "bvlc": Table I's Caffe AlexNet (core.train.bvlc)
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
        if self.arch not in ARCHS:
            raise ValueError(f"unknown arch {self.arch!r}; choose one of {', '.join(ARCHS)}")
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
    stopped: str  # "patience" | "epochs" | "max_iterations" | "diverged"
    history: list[dict] = field(default_factory=list)
    device: str = "cpu"
    precision: str = "fp32"
    model: nn.Module | None = None
    last_snapshot: str | None = None  # the model training ended on (the best one, or not)
    disk_bytes: int = 0  # the run's snapshot files on disk


class _Inputs:
    """Feeds the tuned head: cached trunk features, or the trunk run per batch."""

    def __init__(self, datasets, trunk: nn.Module, device, precision, cache: bool,
                 batch_size: int, shared: Mapping[str, Callable] | None = None):
        self.datasets, self.trunk, self.device, self.precision = datasets, trunk, device, precision
        self.shared = shared or {}  # name -> generator of the features (an experiment's)
        self.cache: dict[str, torch.Tensor] = {}
        self.use_cache = cache and len(trunk) > 0
        self.batch_size = batch_size

    def _run_trunk(self, ds, idx) -> torch.Tensor:
        x = to_input(ds.batch(idx), self.device)
        if len(self.trunk) == 0:
            return x
        with torch.no_grad(), autocast(self.device, self.precision):
            return self.trunk(x).float()

    def build(self) -> Generator[Progress, None, None]:
        if not self.use_cache:
            return
        total = sum(len(ds) for ds in self.datasets.values())
        done = 0
        for name, ds in self.datasets.items():
            if name in self.shared:
                self.cache[name] = yield from self.shared[name]()
                done += len(ds)
                continue
            chunks = []
            for s in range(0, len(ds), SCORE_BATCH):  # the chunks scoring uses
                idx = np.arange(s, min(s + SCORE_BATCH, len(ds)))
                chunks.append(self._run_trunk(ds, idx))
                done += len(idx)
                yield Progress("features", done, total, "caching frozen-layer features")
            self.cache[name] = torch.cat(chunks) if chunks else torch.empty(0)

    def get(self, name: str, idx: np.ndarray) -> torch.Tensor:
        if self.use_cache:
            return self.cache[name][torch.as_tensor(idx, device=self.cache[name].device)]
        return self._run_trunk(self.datasets[name], idx)


def _evaluate(head, inputs: _Inputs, name, ds, positive, device, precision
              ) -> Generator[Progress, None, tuple]:
    """(items, item probs (K, C), item positive labels (K,), mean patch loss) of ``ds``
    under the current head, scored by :func:`score_patches`."""
    p = yield from score_patches(head, lambda idx: inputs.get(name, idx), len(ds),
                                 device=device, precision=precision,
                                 stage=name.split(":")[-1])
    labels = np.asarray(ds.labels, np.int64)
    if len(ds) and labels.min() >= 0:
        loss = float(-np.log(np.maximum(p[np.arange(len(ds)), labels], 1e-12)).mean())
    else:
        loss = float("nan")  # unlabelled patches (a preview set)
    items, probs = item_probs(ds.items, p)
    is_pos = np.isin(labels, positive).astype(np.int64)
    _, first = np.unique(ds.items, return_index=True)
    return items, probs, is_pos[first], loss


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
    pretrained_ref: dict | None = None,
    model_adapter: Callable[[nn.Module], nn.Module] | None = None,
    feature_cache=None,
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
        Where the snapshots go: the best model's ``epoch-EEE-it-IIIIII.pt`` (+ ``.json``;
        each new best replaces the one before) and, when training ends on another model,
        ``last-epoch-EEE-it-IIIIII.pt`` (nothing is written when None).
    positive : classes merged into the positive class for AUC (SPEC §1.3).
    preview : {name: dataset}, optional
        Sets scored with every new best model (yielded as :class:`Scored`, N x C).
    split : (train_idx, val_idx), optional
        A fixed split (patch indices) instead of the grouped 80/20 one.
    pretrained_ref : dict, optional
        :meth:`core.train.weights.ResolvedWeights.reference` of ``pretrained``: given,
        a fine-tuned run's snapshots store only the tuned layers and name this file.
    model_adapter : callable, optional
        The task's ``adapt_model``: turns the built AlexNet into the network the task
        trains (the CIMT context network: same parameters, no padding), before
        initialisation; the state dict's keys must stay those of the AlexNet.
    feature_cache : core.experiments.cache.SharedCache, optional
        Frozen-layer features shared by the runs of an experiment (computed once for
        ``dataset``, not once per run).

    A loss that turns NaN or infinite stops training (``stopped="diverged"``); the best
    snapshot saved before stays, and no "last" snapshot is written. Each epoch's history
    entry has ``"layer_change"``: ``{layer: ||W - W_0|| / ||W_0||}`` of the tuned layers.

    Every :class:`SnapshotSaved` carries the validation items' N x C probabilities
    under that model.
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
    model = build_alexnet(n_classes, None if config.depth == "scratch" else dict(pretrained),
                          arch=config.arch)
    if model_adapter is not None:
        model = model_adapter(model)
    if config.depth == "scratch":
        initialise(model, config.init, generator=gen)
    else:
        nn.init.normal_(model.classifier[6].weight, 0.0, 0.01, generator=gen)
    model = model.to(device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, sched)
    trunk, head = split_model(model, sched)

    # ---- frozen-layer features: cached once when they fit (exact: frozen = eval mode)
    datasets = {"train": train_ds, "val": val_ds,
                **{f"preview:{k}": v for k, v in (preview or {}).items()}}
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
    shared = None if feature_cache is None or not use_cache else {
        n: (lambda i=i: feature_cache.features(trunk, dataset, i, device, precision))
        for n, i in (("train", train_idx), ("val", val_idx))}
    inputs = _Inputs(datasets, trunk, device, precision, use_cache, config.batch_size, shared)
    _, head_precision = stage_precisions(device, precision, config.depth)
    yield from inputs.build()

    from core.experiments.layer_change import LayerChange  # (core.experiments imports us)

    change = LayerChange(model, sched.tuned_layers)
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
    kept: list[Path] = []
    last: dict = {}
    # fine-tuned: only the tuned layers go to disk; the rest is the pretrained file
    tuned = None if config.depth == "scratch" or pretrained_ref is None else [
        k for k, p in model.named_parameters() if p.requires_grad]

    def snap(name: str, epoch: int, auc_v: float, vloss: float, kind: str) -> Path:
        meta = {"depth": config.depth, "epoch": epoch, "iteration": it, "kind": kind,
                "val_auc": auc_v, "val_loss": vloss, "config": config.to_dict(),
                "n_classes": n_classes, "positive": list(positive),
                "layertune": __version__, "torch": torch.__version__}
        return save_snapshot(out / name, model.state_dict(), meta, keys=tuned,
                             pretrained=pretrained_ref)

    def validate(epoch: int):
        items, probs, labels, vloss = yield from _evaluate(
            head, inputs, "val", val_ds, positive, device, head_precision)
        auc_v = _safe_auc(positive_scores(probs, positive), labels)
        crit = auc_v if not math.isnan(auc_v) else -vloss
        is_best = crit > best["crit"]
        if is_best:
            best.update(crit=crit, auc=auc_v, epoch=epoch, iteration=it)
        yield Validated(epoch, it, auc_v, vloss, is_best, best["auc"])
        last.update(epoch=epoch, auc=auc_v, loss=vloss, best=is_best)
        if is_best:
            if out is not None:
                path = snap(snapshot_name(epoch, it), epoch, auc_v, vloss, "best")
                best["snapshot"] = str(path)
                kept.append(path)
                _prune(kept, 1)  # the best only; the last is written when training ends
                yield SnapshotSaved(str(path), epoch, it, auc_v, items, probs)
            for name in datasets:
                if name.startswith("preview:"):
                    p_items, p_probs, _, _ = yield from _evaluate(
                        head, inputs, name, datasets[name], positive, device, head_precision)
                    yield Scored(name.split(":", 1)[1], p_items, p_probs, epoch, tuple(positive))
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
            with autocast(device, head_precision):
                logits = head(x)
            loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            it += 1
            lv = loss.item()
            if not math.isfinite(lv):
                stopped = "diverged"
                yield Notice(f"the training loss became {lv} at iteration {it}: the run "
                             "diverged and stops here (its best snapshot so far is kept)",
                             "warning")
                break
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
        if stopped == "diverged":
            break
        auc_v, is_best = yield from validate(epoch)
        stale = 0 if is_best else stale + 1
        elapsed = time.perf_counter() - t0
        eta = elapsed / it * (total_steps - it) if it else 0.0
        history.append({"epoch": epoch, "iteration": it, "train_loss": epoch_loss / max(seen, 1),
                        "val_auc": auc_v, "elapsed_s": elapsed,
                        "layer_change": change.measure()})
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

    last_path = best["snapshot"]
    change.release()
    if out is not None and last and not last["best"] and stopped != "diverged":
        last_path = str(snap("last-" + snapshot_name(last["epoch"], it), last["epoch"],
                             last["auc"], last["loss"], "last"))
    return TrainResult(best_auc=best["auc"], best_epoch=best["epoch"],
                       best_iteration=best["iteration"], snapshot=best["snapshot"],
                       epochs_run=len(history), iterations=it, stopped=stopped,
                       history=history, device=device.type, precision=precision,
                       model=model if keep_model else None, last_snapshot=last_path,
                       disk_bytes=disk_usage(out) if out is not None else 0)


def dataset_labels(ds, idx) -> np.ndarray:
    return np.asarray(ds.labels[idx], dtype=np.int64)


def snapshot_name(epoch: int, iteration: int) -> str:
    """File name of the snapshot taken at ``epoch`` (0-based; the name counts from 1)."""
    return f"epoch-{epoch + 1:03d}-it-{iteration:06d}.pt"


def _prune(kept: list[Path], keep: int) -> None:
    """Delete all but the newest ``keep`` snapshot files (and their .json) of ``kept``."""
    while len(kept) > max(keep, 1):
        old = kept.pop(0)
        for p in (old, old.with_suffix(".json")):
            p.unlink(missing_ok=True)
