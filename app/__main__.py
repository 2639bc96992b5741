"""Entry point: ``layertune`` (console script) and ``python -m app``.

``layertune`` alone, ``layertune gui [--project P]`` and ``layertune demo`` open the
window; every other command (and ``demo --headless``) runs the Qt-free command line
of :mod:`core.cli`. Without a display, ``demo`` says so and runs headless.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def display_available() -> bool:
    """Whether a window can be shown (X11/Wayland on Linux; always on Windows/macOS)."""
    if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
        return True
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    gui = not argv or argv[0] == "gui" or (argv[0] == "demo" and "--headless" not in argv)
    if gui and argv and argv[0] == "demo" and not display_available():
        print("No display found: running the headless demo instead (layertune demo "
              "--headless). Start LayerTune on a desktop to see the window.", file=sys.stderr)
        argv.append("--headless")
        gui = False
    if gui:
        if not display_available():
            print("error: no display found; LayerTune's window needs a desktop session. "
                  "Try 'layertune demo --headless' or 'layertune --help'.", file=sys.stderr)
            return 2
        from .gui import run_gui

        return run_gui(argv)
    from core.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
