"""Frame labels as CSV files, read and written on a :class:`~core.store.Project`.

The CSV format is the one neighbouring tools use for frame labels: a header
``study,frame,label`` then one row per labelled frame. Extra columns are ignored on import.

Export is de-identified by default: the ``study`` column holds a key derived from the
study's content (:func:`study_key`, ``study-`` and 12 hex digits), never its name or
file name, which on clinical systems often carry a patient ID. The key is the same in
every project holding the same video, so a file exported from one imports into another.
Import takes that key, the study's name, its file name as imported (``cvc_mix.avi``)
or its id.
"""

from __future__ import annotations

import csv
import hashlib
import os
from contextlib import suppress
from pathlib import Path

from core.io.csv_rows import CsvFileError, csv_rows
from core.store import Project, ProjectError, Study, label_values

__all__ = ["export_labels_csv", "import_labels_csv", "study_key"]


# Spellings accepted on import for the frame-quality task, mapped to the stored value.
_FRAME_TASKS = ("frame_quality", "frames")  # "frames": its name before schema 2
_FRAME_ALIASES = {
    "1": "informative",
    "0": "non-informative",
    "i": "informative",  # the labelling keys
    "n": "non-informative",
    "informative": "informative",
    "non-informative": "non-informative",
    "noninformative": "non-informative",
    "non_informative": "non-informative",
    "uninformative": "non-informative",
}
_MAX_REPORTED = 20
_MAX_FRAME = 2**31 - 1


def import_labels_csv(project: Project, path: str | Path, *, user: str | None = None) -> int:
    """Import expert frame labels from a CSV file ``study,frame,label``.

    ``study`` is a study's key (:func:`study_key`, as exported), name, file name as
    imported (``cvc_mix.avi``) or id; ``label`` is ``informative``/``non-informative``
    (or 1/0, or I/N, in any case) for the frames task. The whole file is checked first: if any line is wrong,
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
            rows = list(csv_rows(f, path))
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{path} is not a text CSV file (UTF-8).") from exc
    except CsvFileError as exc:
        raise ProjectError(f"{exc} Nothing was imported.") from exc
    except OSError as exc:
        raise ProjectError(f"Cannot read {path} ({exc.strerror}).") from exc
    if not rows:
        raise ProjectError(f"{path} is empty: expected a header line 'study,frame,label'.")
    header = [h.strip().lower() for h in rows[0][1]]
    if not {"study", "frame", "label"} <= set(header):
        raise ProjectError(
            f"{path}, line {rows[0][0]}: expected a header with the columns "
            f"study,frame,label, found {','.join(rows[0][1])!r}."
        )
    col = {name: header.index(name) for name in ("study", "frame", "label")}
    lookup = _lookup(project)
    studies: dict[str, Study | None] = {}
    entries: dict[tuple[int, int], tuple[str, int]] = {}
    errors: list[str] = []
    for line_no, row in rows[1:]:
        if not any(cell.strip() for cell in row):
            continue  # blank lines are harmless
        try:
            if len(row) <= max(col.values()):
                raise ValueError(f"expected {len(header)} columns, found {len(row)}")
            key = row[col["study"]].strip()
            if key not in studies:
                studies[key] = _find(project, key, lookup)
            study = studies[key]
            if study is None:
                raise ValueError(f"there is no study named {_short(key)!r} in this project (a "
                                 "study is given by its name, file name, key or id)")
            frame_text = row[col["frame"]].strip()
            if not (frame_text.isascii() and frame_text.isdigit()):
                raise ValueError(f"frame must be a whole number, found {frame_text!r}")
            if len(frame_text) > 10 or int(frame_text) > _MAX_FRAME:
                raise ValueError(f"frame {_short(frame_text)} is far too large for a frame "
                                 "number")
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


def _short(text: str, n: int = 40) -> str:
    return text if len(text) <= n else f"{text[:n]}... ({len(text)} characters)"


def _parse_value(text: str, task: str) -> str:
    value = text.strip()
    if not value:
        raise ValueError("the label is empty")
    valid_values = label_values(task)
    if valid_values is not None:
        frames = task in _FRAME_TASKS
        mapped = _FRAME_ALIASES.get(value.lower()) if frames else None
        if mapped is None and value in valid_values:
            mapped = value
        if mapped is None:
            valid = " or ".join(sorted(valid_values)) + (" (or 1/0, I/N)" if frames else "")
            raise ValueError(f"unknown label {value!r}; expected {valid}")
        return mapped
    return value


def study_key(study: Study) -> str:
    """The de-identified key of a study in exported files: ``study-`` and the first 12
    hex digits of a hash of its content hash (the same in every project)."""
    return "study-" + hashlib.sha256(study.content_hash.encode("utf-8")).hexdigest()[:12]


def _lookup(project: Project) -> dict[str, list[Study]]:
    """The studies by key and by file name (several studies may share a file name)."""
    out: dict[str, list[Study]] = {}
    for s in project.studies():
        for k in {study_key(s), Path(s.path).name}:
            out.setdefault(k, []).append(s)
    return out


def _find(project: Project, key: str, lookup: dict[str, list[Study]]) -> Study | None:
    """The study ``key`` means: its name or id, else its key or file name."""
    try:
        return project.find_study(key)
    except ProjectError:
        pass
    found = lookup.get(key, [])
    frames = [s for s in found if s.task in _FRAME_TASKS]
    found = frames if len(found) > 1 and frames else found
    if len(found) > 1:
        raise ValueError(f"{len(found)} studies were imported from files named {key!r} "
                         f"({', '.join(s.name for s in found)}): give the study's name")
    return found[0] if found else None


def export_labels_csv(project: Project, path: str | Path, *, deidentify: bool = True) -> int:
    """Write the current expert labels as CSV ``study,frame,label``.

    De-identified by default: the study column holds the study's key
    (:func:`study_key`), never its name or file path. With ``deidentify=False`` (the
    CLI's ``--keep-names``) it holds the study's name, and the columns
    ``path,user,time`` are added (import ignores them). The file is written atomically.

    Returns
    -------
    int
        The number of labels written.
    """
    path = Path(path)
    names = {s.id: s for s in project.studies()}
    def column(study: Study) -> str:
        return study_key(study) if deidentify else study.name

    labels = sorted(project.labels(), key=lambda lb: (column(names[lb.study_id]), lb.frame))
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
                row = [column(study), lb.frame, lb.value]
                if not deidentify:
                    row += [study.path, lb.user, lb.time]
                writer.writerow(row)
        os.replace(tmp, path)
    except OSError as exc:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise ProjectError(f"Cannot write {path} ({exc.strerror}).") from exc
    return len(labels)
