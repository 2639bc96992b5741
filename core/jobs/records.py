"""What a run records so it can be reproduced from its row alone.

Every random choice of a run derives from its one ``seed`` through :func:`data_rng`
(a separate stream per purpose), the split itself is stored, and so are the resolved
device and precision, the library versions and the pretrained weights' SHA-256.
"""

from __future__ import annotations

import platform

import numpy as np

#: The random streams of a run, each seeded by ``[seed, code]``.
PURPOSES = {"split": 0, "train": 1, "test": 2, "preview": 3, "reduce": 4}
ARCH = "alexnet-torchvision"
#: What the run row's ``arch`` says for each ``TrainConfig.arch``.
ARCH_LABELS = {"torchvision": ARCH, "bvlc": "alexnet-bvlc-caffe (Table I: 96/256/384/384/256, "
               "LRN, 2-way groups)"}


def arch_label(arch: str) -> str:
    """The run record's architecture for ``TrainConfig.arch`` (default torchvision)."""
    return ARCH_LABELS.get(arch, f"alexnet-{arch}")



def data_rng(seed: int, purpose: str) -> np.random.Generator:
    """The generator of one purpose of a run: ``"split"`` (train/val split),
    ``"reduce"`` (the training data kept by a reduced-data run), ``"train"`` (training
    and validation crops), ``"test"`` (test crops), ``"preview"`` (preview crops)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}; choose one of {', '.join(PURPOSES)}")
    return np.random.default_rng([int(seed), PURPOSES[purpose]])


def versions() -> dict[str, str]:
    """Versions of everything that can change a run's numbers."""
    import cv2
    import torch
    import torchvision

    from core import __version__

    return {"layertune": __version__, "torch": torch.__version__,
            "torchvision": torchvision.__version__, "numpy": np.__version__,
            "opencv": cv2.__version__, "python": platform.python_version()}




def split_record(items, groups: np.ndarray, train_idx: np.ndarray, val_idx: np.ndarray,
                 test_study_ids, reduced: dict | None = None) -> dict:
    """The train/validation/test split of a run, JSON-ready.

    By subject (``"unit": "subject"``: subject ids) when ``groups`` are the items'
    subjects; else (one subject split into segments) by item (``"unit": "item"``:
    ``[study id, index]`` pairs). ``"test"`` lists test study ids. A reduced-data run
    adds ``"reduced"`` (what :func:`core.train.sampling.reduce_training` kept) and, when
    it kept part of each subject's items, ``"train_items"``: the ``[study id, index]``
    pairs trained on.
    """
    by_subject = np.array_equal(groups, items.groups)
    if by_subject:
        train = sorted({int(g) for g in items.groups[train_idx]})
        val = sorted({int(g) for g in items.groups[val_idx]})
    else:
        train = [[int(items.study_ids[i]), int(items.indices[i])] for i in train_idx]
        val = [[int(items.study_ids[i]), int(items.indices[i])] for i in val_idx]
    out = {"unit": "subject" if by_subject else "item", "train": train, "val": val,
           "test": sorted(int(s) for s in test_study_ids),
           "n_train_items": len(train_idx), "n_val_items": len(val_idx)}
    if reduced is not None:
        out["reduced"] = dict(reduced)
        if by_subject and reduced.get("level") == "item":
            out["train_items"] = [[int(items.study_ids[i]), int(items.indices[i])]
                                  for i in train_idx]
    return out


def split_positions(items, split: dict) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) positions in ``items`` of a stored :func:`split_record`."""
    keys = {(int(s), int(i)): k for k, (s, i) in enumerate(zip(items.study_ids, items.indices))}

    def at(pairs) -> np.ndarray:
        return np.array([keys[tuple(k)] for k in pairs if tuple(k) in keys], np.int64)

    if split["unit"] == "subject":
        train = (at(split["train_items"]) if "train_items" in split
                 else np.flatnonzero(np.isin(items.groups, split["train"])))
        return train, np.flatnonzero(np.isin(items.groups, split["val"]))
    return at(split["train"]), at(split["val"])
