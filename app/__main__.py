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


def missing_system_libraries() -> list[str]:
    """System libraries Qt's X11 plugin needs that are absent (Linux/X11 only)."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return []
    if not os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return []
    import ctypes.util

    return [pkg for lib, pkg in _XCB_LIBS if ctypes.util.find_library(lib) is None]


# Libraries Qt 6's xcb platform plugin links to, with their Debian/Ubuntu packages.
_XCB_LIBS = (
    ("xcb-cursor", "libxcb-cursor0"), ("xcb-icccm", "libxcb-icccm4"),
    ("xcb-keysyms", "libxcb-keysyms1"), ("xcb-image", "libxcb-image0"),
    ("xcb-render-util", "libxcb-render-util0"), ("xcb-randr", "libxcb-randr0"),
    ("xcb-shape", "libxcb-shape0"), ("xcb-xkb", "libxcb-xkb1"),
    ("xkbcommon-x11", "libxkbcommon-x11-0"), ("EGL", "libegl1"), ("GL", "libgl1"),
    ("fontconfig", "fontconfig"), ("dbus-1", "libdbus-1-3"),
)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    gui = not argv or argv[0] == "gui" or (argv[0] == "demo" and "--headless" not in argv)
    if gui and argv and argv[0] == "demo" and not display_available():
        print("No display found: running the headless demo instead (layertune demo "
              "--headless). Start LayerTune on a desktop to see the window.", file=sys.stderr)
        argv.append("--headless")
        gui = False
    missing = missing_system_libraries() if gui else []
    if missing:
        print(f"LayerTune's window needs the system package(s) {', '.join(missing)} "
              f"(Debian/Ubuntu: sudo apt install {' '.join(missing)}).", file=sys.stderr)
        if argv and argv[0] == "demo":
            print("Running the headless demo meanwhile.", file=sys.stderr)
            argv.append("--headless")
            gui = False
        else:
            return 2
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
