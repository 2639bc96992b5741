"""Run every benchmark: ``python -m benchmarks [--quick] [name ...]``.

Exit status is non-zero when any correctness gate fails (a missed speed target is
reported as MISSED but is not a failure of the run).
"""

from __future__ import annotations

import importlib
import sys
import time

ALL = ("bench_training", "bench_shallow", "bench_video", "bench_gui", "bench_candidates",
       "bench_tta", "bench_froc", "bench_dicom",
       "bench_toboggan", "bench_vessel_patches", "bench_dense", "bench_snake",
       "bench_sweep")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = [a for a in argv if not a.startswith("-")] or list(ALL)
    flags = [a for a in argv if a.startswith("-")]
    failed = []
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        print(f"\n=== {name} {' '.join(flags)} ===", flush=True)
        t0 = time.perf_counter()
        rc = mod.main(flags)
        print(f"=== {name}: {'ok' if rc == 0 else 'GATE FAILED'} "
              f"({time.perf_counter() - t0:.0f} s) ===", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print("correctness gates failed:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
