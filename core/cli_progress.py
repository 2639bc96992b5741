"""Progress of the command line: core events as a progress bar and lines on stderr.

Used by :mod:`core.cli` (``drive`` runs a core generator to its end, printing its
events); the GUI shows the same events in its own widgets.
"""

from __future__ import annotations

import sys
from collections.abc import Generator

__all__ = ["ProgressPrinter", "drive"]


class ProgressPrinter:
    """Turns core events into a progress bar on stderr."""

    def __init__(self, stream=None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_key: tuple | None = None
        self._open = False

    def _bar(self, done: int, total: int, width: int = 28) -> str:
        frac = 0.0 if total <= 0 else min(1.0, done / total)
        n = int(round(frac * width))
        return "[" + "#" * n + "-" * (width - n) + f"] {frac:6.1%}"

    def _emit(self, line: str, key: tuple) -> None:
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self._open = True
        elif key != self._last_key:
            self.stream.write(line + "\n")
        self._last_key = key
        self.stream.flush()

    def _newline(self) -> None:
        if self._open and not self.quiet:
            self.stream.write("\n")
            self.stream.flush()
        self._open = False

    def __call__(self, ev: object) -> None:
        from core.events import BatchEnd, EpochEnd, Notice, Progress

        if isinstance(ev, Progress):
            step = max(1, ev.total // 20)
            self._emit(f"{ev.stage:>10} {self._bar(ev.done, ev.total)} {ev.done}/{ev.total} "
                       f"{ev.message}", (ev.stage, ev.done // step if ev.done < ev.total else -1))
        elif isinstance(ev, BatchEnd):
            step = max(1, ev.total // 20)
            self._emit(f"     train {self._bar(ev.done, ev.total)} epoch {ev.epoch + 1} "
                       f"loss {ev.loss:.4f} {ev.images_per_s:5.0f} img/s ETA {_fmt_s(ev.eta_s)}",
                       ("train", ev.done // step))
        elif isinstance(ev, EpochEnd):
            self._newline()
            if not self.quiet:
                self.stream.write(ev.summary() + "\n")
        elif isinstance(ev, Notice):
            self._newline()
            if not self.quiet:
                self.stream.write(("warning: " if ev.level == "warning" else "") + ev.message
                                  + "\n")

    def close(self) -> None:
        self._newline()


def _fmt_s(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def drive(gen: Generator, printer: ProgressPrinter | None = None):
    """Run a core generator to the end, printing its events; returns its value."""
    from core.events import drain

    printer = printer or ProgressPrinter()
    try:
        return drain(gen, printer)
    finally:
        printer.close()
