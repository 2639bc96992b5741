"""Studies in a project: import (scan once, store the index) and open for reading.

Import goes through the reader registry (:func:`core.io.registry.reader_for`): the
reader scans the path once (a video is decoded once: exact frame count, keyframes, a
fingerprint per frame) and its scan state is stored with the study
(``project.add_study(..., index=...)``), so opening the study later, in any process,
does not scan again. If the file has changed since, the reader notices and says so;
if it has moved or vanished, :func:`open_study` says which study, where it was, and
what to do.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

from core.events import Notice, Progress
from core.io.base import FrameSource, StudyInfo, quote
from core.io.registry import reader_for, reader_for_kind
from core.store import Project, ProjectError, Study

__all__ = ["StudyMissingError", "import_path", "import_study", "open_study"]

DEFAULT_TASK = "frame_quality"


class StudyMissingError(ProjectError, FileNotFoundError):
    """A study's file or folder is no longer where it was imported from.

    Both a :class:`~core.store.ProjectError` (the CLI reports it as bad input) and a
    ``FileNotFoundError`` (callers that handle unreadable files handle it too).
    """


def _scan(path: str | os.PathLike[str]
          ) -> Generator[Progress | Notice, None, list[StudyInfo]]:
    path = Path(path).absolute()  # stored as is: it must not depend on the working directory
    reader = reader_for(path)
    infos = yield from reader.scan(path)
    if not infos:
        raise ValueError(f"The {reader.name} reader found no study in {quote(path)}. "
                         f"Path: {path}")
    return infos


def _add(project: Project, info: StudyInfo, split: str, task: str,
         subject: str | None) -> Study:
    return project.add_study(info.path, info.content_hash, info.kind, task, info.n_frames,
                             info.fps, info.height, info.width, split=split, name=info.name,
                             subject=subject if subject is not None else info.subject,
                             meta=dict(info.meta), index=info.index)


def import_path(project: Project, path: str | os.PathLike[str], *, split: str = "train",
                task: str = DEFAULT_TASK, subject: str | None = None,
                shipped_masks: bool = True) -> Generator[Progress | Notice, None, list[Study]]:
    """Scan ``path`` with the reader that takes it and add every study it holds.

    Idempotent by content: a study already in the project (same content hash and task)
    is returned, with its path updated if it moved.

    Parameters
    ----------
    project : Project
    path : str or PathLike
        A video, a frame folder, an image set... (:func:`core.io.registry.supported_inputs`).
    split : str
        ``"train"`` or ``"test"``, for studies of new subjects.
    task : str
        The task the studies are labelled for.
    subject : str, optional
        Subject key (e.g. a patient pseudonym) for every study; default: the reader's,
        else one new subject per study.
    shipped_masks : bool
        Store an image set's own ``masks/`` as the expert's masks when the task uses
        masks (polyps); False leaves them to :func:`core.io.masks.import_mask_folder`.

    Yields
    ------
    Progress, Notice
        The scan's progress and notices (files left out, truncated videos).

    Returns
    -------
    list of Study

    Raises
    ------
    UnsupportedInputError
        No reader takes ``path`` (nothing is added).
    VideoError
        The reader cannot read it (nothing is added).
    """
    infos = yield from _scan(path)
    studies = [_add(project, info, split, task, subject) for info in infos]
    for study in studies if shipped_masks else ():
        yield from _shipped_masks(project, study)
    return studies


def _shipped_masks(project: Project, study: Study) -> Generator[Progress | Notice, None, None]:
    """Store an image set's own masks as the expert's masks, for a task that uses masks
    (polyps); a mask already there is left as it is (an edit is never overwritten)."""
    from core.store.annotations import task_rules

    kinds = task_rules(study.task)[1] or ()
    if study.kind != "images" or "mask" not in kinds or not study.meta.get("n_masks", 1):
        return
    from core.io.masks import import_mask_folder

    have = set(project.annotation_frames("mask", study_id=study.id).get(study.id, []))
    if have:
        return
    report = yield from import_mask_folder(project, study)
    if report.imported or report.problems:
        yield Notice(f"{study.name}: {report.imported} masks stored as the expert's"
                     + (f"; {len(report.refused)} left out (see the report)"
                        if report.refused else ""), "warning" if report.refused else "info")


def import_study(project: Project, path: str | os.PathLike[str], *, split: str = "train",
                 task: str = DEFAULT_TASK, subject: str | None = None,
                 shipped_masks: bool = True) -> Generator[Progress | Notice, None, Study]:
    """Like :func:`import_path` for a path holding exactly one study; returns it.

    Raises
    ------
    ValueError
        ``path`` holds several studies (nothing is added): use :func:`import_path`.
    """
    infos = yield from _scan(path)
    if len(infos) != 1:
        raise ValueError(f"{quote(path)} holds {len(infos)} studies; import them all with "
                         f"import_path (the CLI's import does). Path: {path}")
    study = _add(project, infos[0], split, task, subject)
    if shipped_masks:
        yield from _shipped_masks(project, study)
    return study


def open_study(project: Project, study: Study, cache_frames: int = 256) -> FrameSource:
    """Open ``study`` for reading with its kind's reader, from its stored index.

    Raises
    ------
    StudyMissingError
        Its file or folder is no longer at the stored path.
    VideoError
        It is there but cannot be read, or has changed since it was imported.
    """
    path = Path(study.path)
    if not path.exists():
        raise StudyMissingError(
            f"The study \u201c{study.name}\u201d cannot be opened: {quote(path)} is no longer "
            f"where it was imported from ({path}); it was moved, renamed or deleted. Import "
            "it again from where it is now: the project recognises its content and keeps "
            "its labels.")
    reader = reader_for_kind(study.kind)
    return reader.open(study, index=project.study_index(study.id), cache_frames=cache_frames)
