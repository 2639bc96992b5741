"""The window's dialogs, each in its own module (import them from there).

* :mod:`app.dialogs.projects` — New project, Open project, Recent projects, start-up;
* :mod:`app.dialogs.import_dialog` — import videos, frame folders, image sets with their set;
* :mod:`app.dialogs.test_video` — Evaluate with no test video: offer to move one;
* :mod:`app.dialogs.run_history` — the project's runs, to show one again.
"""
