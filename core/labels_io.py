"""Label editing helpers on a :class:`~core.project.Project`: undo/redo and CSV files.

:class:`LabelHistory` is the Qt-free undo stack the GUI wraps; every do, undo and redo
is written through to the database at once, so the stack never holds unsaved work.

The CSV format is the one neighbouring tools use for frame labels: a header
``study,frame,label`` then one row per labelled frame. Extra columns are ignored on import.
"""

from __future__ import annotations

import csv
import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from core.project import LABEL_VALUES, Project, ProjectError, Study

__all__ = ["LabelHistory", "export_labels_csv", "import_labels_csv"]


@dataclass(frozen=True)
class _Edit:
    study_id: int
    frame: int
    before: str | None  # None: the frame had no expert label
    after: str | None


class LabelHistory:
    """Undo/redo of expert label edits on a project.

    Parameters
    ----------
    project : Project
        Edits are written to it immediately (each is its own committed transaction).
    user : str, optional
        Recorded as the author of every edit, undo and redo; default the OS user.
    limit : int
        The most edits kept for undo; older ones drop off (they stay in the database).
    """

    def __init__(self, project: Project, *, user: str | None = None, limit: int = 1000) -> None:
        self.project = project
        self.user = user
        self.limit = limit
        self._undo: list[_Edit] = []
        self._redo: list[_Edit] = []

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    def set(self, study_id: int, frame: int, value: str) -> None:
        """Label a frame (undoable). Setting the value it already has does nothing."""
        self._do(study_id, frame, value)

    def clear(self, study_id: int, frame: int) -> None:
        """Remove a frame's label (undoable). Clearing an unlabelled frame does nothing."""
        self._do(study_id, frame, None)

    def undo(self) -> tuple[int, int] | None:
        """Revert the newest edit; returns its (study_id, frame), or None if none."""
        if not self._undo:
            return None
        edit = self._undo[-1]
        self._apply(edit.study_id, edit.frame, edit.before)
        self._redo.append(self._undo.pop())  # only once the write succeeded
        return edit.study_id, edit.frame

    def redo(self) -> tuple[int, int] | None:
        """Re-apply the newest undone edit; returns its (study_id, frame), or None."""
        if not self._redo:
            return None
        edit = self._redo[-1]
        self._apply(edit.study_id, edit.frame, edit.after)
        self._undo.append(self._redo.pop())
        return edit.study_id, edit.frame

    def _do(self, study_id: int, frame: int, value: str | None) -> None:
        current = self.project.label(study_id, frame)
        before = None if current is None else current.value
        if before == value:
            return
        self._apply(study_id, frame, value)
        self._undo.append(_Edit(int(study_id), int(frame), before, value))
        del self._undo[: -self.limit]
        self._redo.clear()  # a new edit forks history: the undone branch is gone

    def _apply(self, study_id: int, frame: int, value: str | None) -> None:
        if value is None:
            self.project.clear_label(study_id, frame, user=self.user)
        else:
            self.project.set_label(study_id, frame, value, user=self.user)


# Spellings accepted on import for the frames task, mapped to the stored value.
_FRAME_ALIASES = {
    "1": "informative",
    "0": "non-informative",
    "informative": "informative",
    "non-informative": "non-informative",
    "noninformative": "non-informative",
    "non_informative": "non-informative",
    "uninformative": "non-informative",
}
_MAX_REPORTED = 20


def import_labels_csv(project: Project, path: str | Path, *, user: str | None = None) -> int:
    """Import expert frame labels from a CSV file ``study,frame,label``.

    ``study`` is a study's name or id; ``label`` is ``informative``/``non-informative``
    (or 1/0) for the frames task. The whole file is checked first: if any line is wrong,
    nothing is imported and the :class:`ProjectError` names the file and every bad line
    (up to 20). Otherwise all rows are saved in one transaction.

    Returns
    -------
    int
        The number of labels imported.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{path} is not a text CSV file (UTF-8).") from exc
    except OSError as exc:
        raise ProjectError(f"Cannot read {path} ({exc.strerror}).") from exc
    if not rows:
        raise ProjectError(f"{path} is empty: expected a header line 'study,frame,label'.")
    header = [h.strip().lower() for h in rows[0]]
    if not {"study", "frame", "label"} <= set(header):
        raise ProjectError(
            f"{path}, line 1: expected a header with the columns "
            f"study,frame,label, found {','.join(rows[0])!r}."
        )
    col = {name: header.index(name) for name in ("study", "frame", "label")}
    studies: dict[str, Study | None] = {}
    entries: dict[tuple[int, int], tuple[str, int]] = {}
    errors: list[str] = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # blank lines are harmless
        try:
            if len(row) <= max(col.values()):
                raise ValueError(f"expected {len(header)} columns, found {len(row)}")
            key = row[col["study"]].strip()
            if key not in studies:
                try:
                    studies[key] = project.find_study(key)
                except ProjectError:
                    studies[key] = None
            study = studies[key]
            if study is None:
                raise ValueError(f"there is no study named {key!r} in this project")
            frame_text = row[col["frame"]].strip()
            if not (frame_text.isascii() and frame_text.isdigit()):
                raise ValueError(f"frame must be a whole number, found {frame_text!r}")
            frame = int(frame_text)
            if study.n_frames and frame >= study.n_frames:
                raise ValueError(
                    f"frame {frame} is past the end of {study.name!r} ({study.n_frames} frames)"
                )
            value = _parse_value(row[col["label"]], study.task)
            previous = entries.get((study.id, frame))
            if previous is not None and previous[0] != value:
                raise ValueError(
                    f"frame {frame} of {study.name!r} is labelled {value!r} "
                    f"here but {previous[0]!r} on line {previous[1]}"
                )
            entries[(study.id, frame)] = (value, line_no)
        except ValueError as exc:
            errors.append(f"line {line_no}: {exc}")
    if errors:
        shown = errors[:_MAX_REPORTED]
        more = len(errors) - len(shown)
        raise ProjectError(
            f"{path} was not imported; nothing was changed.\n"
            + "\n".join(shown)
            + (f"\n... and {more} more" if more else "")
        )
    return project.set_labels(
        ((s, f, v) for (s, f), (v, _) in entries.items()), source="expert", user=user
    )


def _parse_value(text: str, task: str) -> str:
    value = text.strip()
    if not value:
        raise ValueError("the label is empty")
    if task in LABEL_VALUES:
        mapped = _FRAME_ALIASES.get(value.lower()) if task == "frames" else None
        if mapped is None and value in LABEL_VALUES[task]:
            mapped = value
        if mapped is None:
            valid = " or ".join(LABEL_VALUES[task]) + (" (or 1/0)" if task == "frames" else "")
            raise ValueError(f"unknown label {value!r}; expected {valid}")
        return mapped
    return value


def export_labels_csv(project: Project, path: str | Path, *, deidentify: bool = True) -> int:
    """Write the current expert labels as CSV ``study,frame,label``.

    The study column holds the study's name, never its file path. With
    ``deidentify=False`` the columns ``path,user,time`` are added after them (import
    ignores them). The file is written atomically.

    Returns
    -------
    int
        The number of labels written.
    """
    path = Path(path)
    names = {s.id: s for s in project.studies()}
    labels = sorted(project.labels(), key=lambda lb: (names[lb.study_id].name, lb.frame))
    header = ["study", "frame", "label"] + ([] if deidentify else ["path", "user", "time"])
    # A temporary file beside the target, then a rename: readers never see half a file.
    # open() (not mkstemp) so the file gets the user's usual permissions.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for lb in labels:
                study = names[lb.study_id]
                row = [study.name, lb.frame, lb.value]
                if not deidentify:
                    row += [study.path, lb.user, lb.time]
                writer.writerow(row)
        os.replace(tmp, path)
    except OSError as exc:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ProjectError(f"Cannot write {path} ({exc.strerror}).") from exc
    return len(labels)
