"""Shared pieces of the training benchmarks: synthetic data, step-wise runners, timing.

The runners advance a training loop one optimizer step at a time so that ours and the
reference can be *interleaved* step by step: on a small shared machine, background load
then lands on both sides alike instead of on whichever ran second. Each runner keeps
its own torch global RNG state (dropout masks), so interleaving changes no draw.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from core.events import BatchEnd, Notice, Validated
from core.train.patches import CropDataset, random_offsets

FRAME_SHAPE = (350, 500)  # (rows, cols), the paper's resized colonoscopy frame
CROP = 227


# --------------------------------------------------------------------------- data


def synthetic_frames(n_frames: int, rng: np.random.Generator,
                     shape: tuple[int, int] = FRAME_SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """Textured RGB frames of two classes.

    Class 0: smooth blotches; class 1: the same plus a fine oriented grating (so the
    classes are learnable and the loss moves).

    Returns
    -------
    images : (n_frames, rows, cols, 3) uint8
    labels : (n_frames,) int64, alternating 0, 1, 0, ...
    """
    h, w = shape
    labels = np.arange(n_frames, dtype=np.int64) % 2
    images = np.empty((n_frames, h, w, 3), np.uint8)
    rr, cc = np.mgrid[0:h, 0:w].astype(np.float32)
    for f in range(n_frames):
        coarse = rng.random((h // 25 + 1, w // 25 + 1, 3), dtype=np.float32)
        blotch = np.repeat(np.repeat(coarse, 25, 0), 25, 1)[:h, :w]
        img = 50 + 140 * blotch + 12 * rng.standard_normal((h, w, 3), dtype=np.float32)
        if labels[f]:
            theta, period = rng.uniform(0, np.pi), rng.uniform(4, 9)
            grating = np.sin(2 * np.pi * (rr * np.cos(theta) + cc * np.sin(theta)) / period)
            img += 35 * grating[..., None]
        images[f] = np.clip(img, 0, 255).astype(np.uint8)
    return images, labels


def crop_dataset(n_frames: int = 24, crops_per_frame: int = 16, n_groups: int = 4,
                 seed: int = 0) -> CropDataset:
    """A :class:`CropDataset` of random 227 px crops of :func:`synthetic_frames`.

    Frames pair up into groups (``group = (frame // 2) % n_groups``), so every group
    holds as many frames of each class and any union of whole groups is balanced.
    """
    rng = np.random.default_rng(seed)
    images, frame_labels = synthetic_frames(n_frames, rng)
    frame = np.repeat(np.arange(n_frames), crops_per_frame)
    offsets = random_offsets(len(frame), FRAME_SHAPE, CROP, rng)
    groups = (frame // 2) % n_groups
    return CropDataset(images, frame, offsets, frame_labels[frame], frame.copy(), groups, CROP)


def group_split(dataset: CropDataset, val_group: int | None = None,
                val_per_item: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fixed (train_idx, val_idx): one whole group for validation, the rest for training.

    ``val_per_item`` keeps only that many patches of each validation item (a small,
    cheap validation set where validation is not what is measured).
    """
    val_group = int(dataset.groups.max()) if val_group is None else val_group
    is_val = dataset.groups == val_group
    train_idx = np.flatnonzero(~is_val)
    val_idx = np.flatnonzero(is_val)
    if val_per_item is not None:
        _, first = np.unique(dataset.items[val_idx], return_index=True)
        keep = np.concatenate([np.arange(i, i + val_per_item) for i in first])
        val_idx = val_idx[keep]
    return train_idx.astype(np.int64), val_idx.astype(np.int64)


def fake_pretrained(seed: int = 1234) -> dict[str, torch.Tensor]:
    """A state dict shaped like torchvision's ImageNet AlexNet (1000-way fc8), seeded."""
    from torchvision.models import alexnet

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return alexnet(weights=None).state_dict()


# --------------------------------------------------------------------------- runners


class IsolatedRng:
    """Runs calls under a torch global RNG state of their own.

    The first call starts from whatever state is current (the code it runs usually
    seeds itself); every later call resumes where the previous one left off.
    """

    def __init__(self) -> None:
        self._cpu: torch.Tensor | None = None
        self._cuda: list[torch.Tensor] | None = None

    def run(self, fn: Callable, *args):
        outer_cpu = torch.get_rng_state()
        outer_cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        if self._cpu is not None:
            torch.set_rng_state(self._cpu)
            if self._cuda is not None:
                torch.cuda.set_rng_state_all(self._cuda)
        try:
            return fn(*args)
        finally:
            self._cpu = torch.get_rng_state()
            self._cuda = torch.cuda.get_rng_state_all() if outer_cuda is not None else None
            torch.set_rng_state(outer_cpu)
            if outer_cuda is not None:
                torch.cuda.set_rng_state_all(outer_cuda)


@dataclass
class StepLog:
    """Per optimizer step: loss, batch size and seconds (data loading included)."""

    losses: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


class EngineRun:
    """Drives a :func:`core.train.engine.train` generator one optimizer step at a time.

    Step seconds are the engine's own (``BatchEnd.images_per_s``). ``setup_s`` is the
    wall time from the start to the first step (model build, feature caching);
    ``val_s`` the wall time of each validation (from the step before it to ``Validated``).
    """

    def __init__(self, gen: Iterator, n_train: int, batch_size: int) -> None:
        self.gen, self.rng, self.log = gen, IsolatedRng(), StepLog()
        self.n_train, self.batch_size = n_train, batch_size
        self.steps_per_epoch = math.ceil(n_train / batch_size)
        self.setup_s = 0.0
        self._since = 0.0
        self.val_s: list[float] = []
        self.val_losses: list[float] = []
        self.notices: list[str] = []
        self.result = None

    def step(self) -> bool:
        """Run up to and including the next optimizer step; False once training ended."""
        while self.result is None:
            t0 = time.perf_counter()
            try:
                ev = self.rng.run(next, self.gen)
            except StopIteration as stop:
                self.result = stop.value
                return False
            # Wall time since the previous optimizer step: set-up before the first one,
            # then validation (its progress events and the Validated record).
            self._since += time.perf_counter() - t0
            if isinstance(ev, BatchEnd):
                pos = (ev.iteration - 1) % self.steps_per_epoch
                n = min(self.batch_size, self.n_train - pos * self.batch_size)
                sec = n / ev.images_per_s
                if not self.log.losses:
                    self.setup_s = self._since - sec
                self._since = 0.0
                self.log.losses.append(ev.loss)
                self.log.sizes.append(n)
                self.log.seconds.append(sec)
                return True
            if isinstance(ev, Validated) and self.log.losses:
                self.val_s.append(self._since)
                self.val_losses.append(ev.loss)
                self._since = 0.0
            elif isinstance(ev, Notice):
                self.notices.append(ev.message)
        return False

    def finish(self) -> None:
        """Run to the end (the final validation included)."""
        while self.step():
            pass


class LoopRun:
    """Drives a plain loop written as a generator of ``(loss, batch size, seconds)``."""

    def __init__(self, gen: Iterator[tuple[float, int, float]]) -> None:
        self.gen, self.rng, self.log = gen, IsolatedRng(), StepLog()

    def step(self) -> bool:
        try:
            loss, n, sec = self.rng.run(next, self.gen)
        except StopIteration:
            return False
        self.log.losses.append(loss)
        self.log.sizes.append(n)
        self.log.seconds.append(sec)
        return True


def interleave(runners: list, steps: int) -> None:
    """Advance every runner by one step in turn, ``steps`` times."""
    for _ in range(steps):
        for r in runners:
            r.step()


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Throughput:
    """Steady-state speed of a run, warm-up steps left out."""

    images_per_s: float  # total images / total seconds
    median_images_per_s: float  # robust to a few steps hit by background load
    median_step_s: float
    steps: int


def throughput(log: StepLog, skip: int = 2) -> Throughput:
    sizes = np.asarray(log.sizes[skip:], dtype=np.float64)
    sec = np.asarray(log.seconds[skip:], dtype=np.float64)
    if len(sec) == 0:
        raise ValueError(f"no steps left after skipping {skip} warm-up steps")
    return Throughput(float(sizes.sum() / sec.sum()), float(np.median(sizes / sec)),
                      float(np.median(sec)), len(sec))


@dataclass(frozen=True)
class LossMatch:
    """Per-step agreement of two loss trajectories: |a - b| <= atol + rtol * |b|."""

    ok: bool
    steps: int
    max_abs: float
    max_rel: float
    first_bad: int | None  # 1-based step, None when all agree


def compare_losses(a, b, *, atol: float, rtol: float) -> LossMatch:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = min(len(a), len(b))
    if n == 0:
        return LossMatch(False, 0, math.nan, math.nan, None)
    a, b = a[:n], b[:n]
    diff = np.abs(a - b)
    bad = ~(diff <= atol + rtol * np.abs(b))  # NaN counts as a mismatch
    first = int(np.argmax(bad)) + 1 if bad.any() else None
    rel = diff / np.maximum(np.abs(b), 1e-12)
    return LossMatch(not bad.any(), n, float(diff.max()), float(rel.max()), first)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


class OtherLoad:
    """Share of the machine's CPU time that *other* processes used while this ran.

    Timings on a small shared machine are only meaningful when this is near zero: under
    oversubscription each OpenMP parallel region can wait a scheduler tick for a
    descheduled thread, which inflates short ops many times over. Linux only (reads
    ``/proc``); ``fraction()`` is None elsewhere.
    """

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[int, int, int] | None:
        try:
            with open("/proc/stat") as f:
                cpu = [int(v) for v in f.readline().split()[1:]]
            with open("/proc/self/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError, IndexError):
            return None
        idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)
        total = sum(cpu[:8])
        return total, total - idle, int(fields[11]) + int(fields[12])  # utime + stime

    def fraction(self) -> float | None:
        end = self._sample()
        if self._start is None or end is None or end[0] <= self._start[0]:
            return None
        total, busy, ours = (b - a for a, b in zip(self._start, end))
        return max(0.0, (busy - ours) / total)

    def line(self) -> str:
        f = self.fraction()
        if f is None:
            return "load from other processes: unknown"
        warn = "  WARNING: the machine was busy, timings are unreliable" if f > 0.1 else ""
        return f"other processes used {f:.0%} of the machine's CPU time meanwhile{warn}"


def machine_line() -> str:
    """torch version, threads and the CPU's bf16 support, for the report header."""
    from core.train.engine import cpu_has_fast_bf16

    return (f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"CPU fast bf16: {cpu_has_fast_bf16()}, CUDA: {torch.cuda.is_available()}")
