"""What the runs of one experiment share: weights, prepared data, frozen-layer features.

Every run of an experiment uses the same task, options, seed and pretrained weights, so
within one process (the local queue, or one Ray worker) they share:

* the pretrained weights, read and hashed once (:meth:`SharedCache.weights`);
* the prepared training data: the decoded frames and their crops, built once per item
  set (:meth:`SharedCache.dataset`; a reduced-data run has its own item set);
* the frozen layers' outputs. A run at depth ``d`` freezes the layers below ``d``, which
  hold the pretrained weights in every run and run in eval mode, so their output on a
  patch is the same in every run (that is what makes the engine's per-run cache exact,
  see :mod:`core.train.engine`). The trunk of a shallower depth extends the trunk of a
  deeper one (``fc8``'s trunk is ``fc7``'s plus fc7), so one pass over the patches,
  stopped at each planned depth's cut, serves every shallow depth: the cache keeps the
  output at each cut and extends the longest cached prefix when a run asks for more
  (:meth:`SharedCache.features`).

Features are computed in the chunks scoring uses, under the run's precision (bf16
outputs stored as float32 and cast back are unchanged), so a run reading them sees what
its own caching pass would have computed, up to the rounding of a different chunking.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator

import numpy as np
import torch
from torch import nn

from core.events import Progress
from core.train.model import DEPTHS, layer_span
from core.train.predict import SCORE_BATCH, autocast, to_input


def leaves(module: nn.Module) -> list[nn.Module]:
    """The modules of nested ``nn.Sequential`` containers, flattened in order."""
    if isinstance(module, nn.Sequential):
        return [m for child in module for m in leaves(child)]
    return [module]


def trunk_length(depth: str, arch: str = "torchvision") -> int:
    """Number of leaf modules in the frozen trunk of ``depth``
    (:func:`core.train.model.split_model`; 0 for ``conv1`` and ``scratch``)."""
    if depth in ("scratch", "conv1"):
        return 0
    container, start, _ = layer_span(depth, arch)
    if container == "features":
        return start
    n_features = layer_span("conv5", arch)[2] + 1
    return n_features + 2 + start  # features, avgpool, flatten, classifier[:start]


def _signature(mods: list[nn.Module]) -> list[str]:
    return [repr(m) for m in mods]


def items_key(items) -> str:
    """A fingerprint of an item set (studies, items, labels, groups)."""
    h = hashlib.sha256()
    for a in (items.study_ids, items.indices, items.labels, items.groups):
        h.update(np.ascontiguousarray(a, np.int64).tobytes())
    h.update(items.kind.encode())
    return h.hexdigest()


class SharedCache:
    """Weights, datasets and frozen-layer features shared by the runs of an experiment.

    Parameters
    ----------
    depths : the experiment's depths: their trunk cuts are where features are kept
    arch : the runs' architecture
    limit_mb : most megabytes of features kept (cuts that would pass it are recomputed
        by each run that needs them instead)
    """

    def __init__(self, depths=DEPTHS, arch: str = "torchvision", limit_mb: int = 4096):
        self.cuts = sorted({trunk_length(d, arch) for d in depths} - {0})
        self.limit_mb = limit_mb
        self._weights: dict = {}
        self._datasets: dict = {}
        self._features: dict = {}  # (id(dataset), device, precision) -> {cut: tensor}
        self._sigs: dict = {}      # same key -> signature of the longest prefix seen
        self._keep: list = []      # the datasets keyed by id, kept alive
        self.hits = {"weights": 0, "datasets": 0, "features": 0}
        self.computed_patches = 0  # patches run through frozen layers (a pass each)

    # ------------------------------------------------------------------ weights
    def weights(self, path=None, *, arch: str = "torchvision"):
        """:func:`core.train.weights.resolve_weights`, once per (file, arch)."""
        from core.train.weights import resolve_weights

        key = (None if path is None else str(path), arch)
        if key in self._weights:
            self.hits["weights"] += 1
        else:
            self._weights[key] = resolve_weights(path, arch=arch)
        return self._weights[key]

    # ------------------------------------------------------------------ data
    def dataset(self, task, project, items, seed: int, make) -> Generator[object, None, object]:
        """The training dataset of ``items``: ``make()`` (a generator) the first time."""
        key = (task.name, json.dumps(task.options, sort_keys=True, default=str), int(seed),
               items_key(items))
        if key in self._datasets:
            self.hits["datasets"] += 1
            return self._datasets[key]
        ds = yield from make()
        self._datasets[key] = ds
        return ds

    # ------------------------------------------------------------------ features
    def _used_mb(self) -> float:
        return sum(t.numel() * t.element_size() for d in self._features.values()
                   for t in d.values()) / 2**20

    def features(self, trunk: nn.Module, dataset, idx, device, precision: str
                 ) -> Generator[Progress, None, torch.Tensor]:
        """The frozen trunk's outputs for patches ``idx`` of ``dataset`` (float32, on
        ``device``), computed once per cut for the whole dataset."""
        mods = leaves(trunk)
        n = len(mods)
        key = (id(dataset), str(device), precision)
        store = self._features.setdefault(key, {})
        sig = _signature(mods)
        known = self._sigs.get(key)
        if known is not None and known[:min(len(known), n)] != sig[:min(len(known), n)]:
            store.clear()  # another network: nothing cached applies
        if known is None or len(sig) > len(known):
            self._sigs[key] = sig
        if not any(d is dataset for d in self._keep):
            self._keep.append(dataset)
        if n in store:
            self.hits["features"] += 1
        else:
            yield from self._extend(mods, dataset, store, device, precision)
        return store[n][torch.as_tensor(np.asarray(idx, np.int64), device=store[n].device)]

    def _extend(self, mods, dataset, store, device, precision) -> Generator[Progress, None, None]:
        n = len(mods)
        start = max([c for c in store if c < n], default=0)
        if start:
            self.hits["features"] += 1
        stops = [c for c in self.cuts if start < c < n] + [n]
        total = len(dataset)
        outs: dict[int, list] = {c: [] for c in stops}
        for s in range(0, total, SCORE_BATCH):
            idx = np.arange(s, min(s + SCORE_BATCH, total))
            with torch.no_grad(), autocast(device, precision):
                x = store[start][torch.as_tensor(idx, device=store[start].device)] if start \
                    else to_input(dataset.batch(idx), device)
                at = start
                for c in stops:
                    for m in mods[at:c]:
                        x = m(x)
                    at = c
                    outs[c].append(x.float())
            yield Progress("features", int(idx[-1]) + 1, total,
                           "frozen-layer features (shared by the experiment's runs)")
        if not start:
            self.computed_patches += total
        for c in stops:
            t = torch.cat(outs.pop(c))
            mb = t.numel() * t.element_size() / 2**20
            if c == n or self._used_mb() + mb <= self.limit_mb:
                store[c] = t

    def clear(self) -> None:
        """Drop everything (the experiment's end; frees the device memory it held)."""
        self._weights.clear()
        self._datasets.clear()
        self._features.clear()
        self._sigs.clear()
        self._keep.clear()
