"""GUI responsiveness while a CPU training run goes on, and how fast a cancel lands.

A 5 ms QTimer probe records the gaps between its ticks on the GUI thread; the longest
gap minus the interval is the longest stall of the event loop, reported as an absolute
figure (target < 100 ms) with the 99th percentile. Training runs in
:class:`app.worker.GeneratorWorker` (a QThread), from scratch so that every best
snapshot is a full one (all layers, ~230 MB), written while the probe runs. (No ratio
against training on the GUI thread: nobody would ship that, so it flatters any figure.)

Cancel latency (target < 1 s): ``quit()`` to the worker's thread finished, measured in
two situations: between training steps, and while a full snapshot is being written
(``quit()`` the moment its temporary file appears), which is the worst case because a
snapshot write is not interrupted half-way.

Correctness gate: the worker's training yields exactly the losses of the same
generator run directly (same seed), i.e. moving it to a thread changed nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402


def _data(n: int, seed: int = 0):
    from core.train.patches import CropDataset, random_offsets

    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 255, (8, 350, 500, 3), dtype=np.uint8)
    img = np.repeat(np.arange(8), n // 8)
    labels = (img % 2).astype(np.int64)
    frames[1::2] //= 3  # learnable: odd frames darker
    return CropDataset(frames, img, random_offsets(len(img), (350, 500), 227, rng), labels,
                       np.arange(len(img)), img % 4)


def _gen(cfg, ds, out_dir=None):
    from core.train.engine import train

    return train(ds, cfg, out_dir=out_dir)


def _writing(folder) -> bool:
    """Whether a snapshot's temporary file is in ``folder`` (a write in progress)."""
    try:
        return any(e.name.endswith(".tmp") and ".pt." in e.name for e in os.scandir(folder))
    except FileNotFoundError:
        return False


def _losses_direct(cfg, ds) -> list[float]:
    from core.events import BatchEnd

    return [e.loss for e in _gen(cfg, ds) if isinstance(e, BatchEnd)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench_gui")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from app.worker import GeneratorWorker
    from core.events import BatchEnd
    from core.train.engine import TrainConfig

    app = QApplication.instance() or QApplication(sys.argv[:1])
    n = 128 if args.quick else 320
    ds = _data(n)
    cfg = TrainConfig(depth="scratch", init="msra", epochs=2 if args.quick else 3,
                      batch_size=32, device="cpu", precision="auto", seed=1)

    def probe_while(run) -> tuple[float, float, float]:
        gaps: list[float] = []
        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed()]

        def tick():
            now = clock.nsecsElapsed()
            gaps.append((now - last[0]) / 1e6)
            last[0] = now

        t = QTimer()
        t.setInterval(5)
        t.timeout.connect(tick)
        t.start()
        t0 = time.perf_counter()
        run()
        t.stop()
        if not gaps:
            return float("inf"), float("inf"), time.perf_counter() - t0
        return max(gaps) - 5.0, float(np.percentile(gaps, 99)) - 5.0, time.perf_counter() - t0

    tmp = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    try:
        return _measure(app, GeneratorWorker, BatchEnd, cfg, ds, probe_while, tmp, args.quick)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _measure(app, GeneratorWorker, BatchEnd, cfg, ds, probe_while, tmp, quick) -> int:
    # the worker thread, writing its snapshots, under the probe
    got: list[float] = []
    done = []
    w = GeneratorWorker(lambda: _gen(cfg, ds, tmp / "probe"))
    w.yielded.connect(lambda ev: got.extend(e.loss for e in ev if isinstance(e, BatchEnd))
                      if isinstance(ev, tuple) else None)
    w.finished.connect(lambda: done.append(1))

    def run_worker():
        w.start()
        while not done:
            app.processEvents()
            time.sleep(0.001)
        w.wait(10000)

    stall, stall99, t_ours = probe_while(run_worker)
    n_snaps = len(list((tmp / "probe").glob("*.pt")))

    def cancel(k: int, during_write: bool) -> float | None:
        """Seconds from quit() to the thread finished; None if no write was caught."""
        steps, fin = [], []
        out = tmp / f"cancel-{k}-{int(during_write)}"
        cw = GeneratorWorker(lambda: _gen(cfg, ds, out), throttle_s=0.0)
        cw.yielded.connect(lambda ev, st=steps: st.append(1) if isinstance(ev, tuple) else None)
        cw.finished.connect(lambda f=fin: f.append(time.perf_counter()))
        cw.start()
        while not fin and not (_writing(out) if during_write else len(steps) >= 2 + k):
            app.processEvents()
            time.sleep(0.0005)
        if fin:  # ended before the moment came
            cw.wait(10000)
            return None
        t_cancel = time.perf_counter()
        cw.quit()
        while not fin:
            app.processEvents()
            time.sleep(0.001)
        cw.wait(10000)
        return fin[0] - t_cancel

    reps = 2 if quick else 4
    between = [c for c in (cancel(k, False) for k in range(reps)) if c is not None]
    writing = [c for c in (cancel(k, True) for k in range(reps)) if c is not None]
    direct = _losses_direct(cfg, ds)
    same = len(direct) == len(got) and np.allclose(direct, got, rtol=0, atol=0)
    print(f"training {len(direct)} steps from scratch, {n_snaps} full snapshots written; "
          f"worker run {t_ours:.1f} s")
    print(f"longest event-loop stall (GUI thread, 5 ms probe): {stall:.1f} ms "
          f"(99th percentile {stall99:.1f} ms); target < 100 ms: "
          f"{'met' if stall < 100 else 'MISSED'}")
    for name, lat in (("between steps", between), ("while a full snapshot is written", writing)):
        if not lat:
            print(f"cancel latency {name}: not measured (no moment caught)")
            continue
        print(f"cancel latency {name}, max of {len(lat)}: {max(lat) * 1000:.0f} ms "
              f"(all: {', '.join(f'{v * 1000:.0f}' for v in lat)}); target < 1000 ms: "
              f"{'met' if max(lat) < 1.0 else 'MISSED'}")
    print(f"correctness gate (worker losses == direct run, bit for bit): "
          f"{'pass' if same else 'FAIL'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
