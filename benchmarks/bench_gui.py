"""GUI responsiveness while a CPU training run goes on.

A 5 ms QTimer probe records the gaps between its ticks on the GUI thread; the longest
gap minus the interval is the longest stall of the event loop. Ours: training runs in
:class:`app.worker.GeneratorWorker` (a QThread). Reference: the same training driven
on the GUI thread between events (what a naive app does). Target: ours < 100 ms.
Correctness gate: the worker's training yields exactly the losses of the same
generator run directly (same seed), i.e. moving it to a thread changed nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

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


def _gen(cfg, ds):
    from core.train.engine import train

    return train(ds, cfg)


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

    def probe_while(run) -> tuple[float, float]:
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
        return (max(gaps) - 5.0 if gaps else float("inf")), time.perf_counter() - t0

    # ours: a worker thread
    got: list[float] = []
    done = []
    w = GeneratorWorker(lambda: _gen(cfg, ds))
    w.yielded.connect(lambda ev: got.extend(e.loss for e in ev if isinstance(e, BatchEnd))
                      if isinstance(ev, tuple) else None)
    w.finished.connect(lambda: done.append(1))

    def run_worker():
        w.start()
        while not done:
            app.processEvents()
            time.sleep(0.001)
        w.wait(10000)

    stall_ours, t_ours = probe_while(run_worker)

    # reference: the generator driven on the GUI thread, events processed between steps
    def run_inline():
        for _ in _gen(cfg, ds):
            app.processEvents()

    stall_ref, t_ref = probe_while(run_inline)

    # cancel latency: quit() after a few steps, until the worker's thread has finished
    latencies = []
    for k in range(2 if args.quick else 4):
        steps, fin = [], []
        cw = GeneratorWorker(lambda: _gen(cfg, ds), throttle_s=0.0)
        cw.yielded.connect(lambda ev, st=steps: st.append(1) if isinstance(ev, tuple) else None)
        cw.finished.connect(lambda f=fin: f.append(time.perf_counter()))
        cw.start()
        while len(steps) < 2 + k:
            app.processEvents()
            time.sleep(0.001)
        t_cancel = time.perf_counter()
        cw.quit()
        while not fin:
            app.processEvents()
            time.sleep(0.001)
        cw.wait(10000)
        latencies.append(fin[0] - t_cancel)
    direct = _losses_direct(cfg, ds)
    same = len(direct) == len(got) and np.allclose(direct, got, rtol=0, atol=0)
    print(f"training {len(direct)} steps; worker run {t_ours:.1f} s, inline run {t_ref:.1f} s")
    print(f"longest event-loop stall: ours (QThread worker) {stall_ours:.1f} ms, "
          f"reference (GUI thread) {stall_ref:.1f} ms, ratio {stall_ref / max(stall_ours, 1e-3):.1f}x")
    print(f"target < 100 ms: {'met' if stall_ours < 100 else 'MISSED'}")
    print(f"cancel latency (quit() to thread finished), max of {len(latencies)}: "
          f"{max(latencies) * 1000:.0f} ms; target < 1000 ms: "
          f"{'met' if max(latencies) < 1.0 else 'MISSED'}")
    print(f"correctness gate (worker losses == direct run, bit for bit): "
          f"{'pass' if same else 'FAIL'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
