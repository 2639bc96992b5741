"""Evaluate with no test video: say so, and offer to move a training video to the test set.

A model is evaluated on videos it never trained on. When the project has none in its
test set, :func:`check_test_set` explains it and offers to move one (with every video of
its patient); when the newest run trained on the video moved, it says that a new run
is needed before evaluating, instead of evaluating on a video the model has seen.
"""

from __future__ import annotations

from PySide6.QtWidgets import QInputDialog, QMessageBox, QWidget


def _seen_by_run(run, study) -> bool:
    """Whether ``run`` trained or validated on ``study`` (its subject, or its items)."""
    split = (run.split or {}) if run is not None else {}
    if split.get("unit") == "subject":
        sid = study.subject_id if getattr(study, "subject_id", None) is not None else study.id
        return sid in set(split.get("train", []) + split.get("val", []))
    return any(int(k[0]) == study.id for k in split.get("train", []) + split.get("val", []))


def _has_truth(project, study) -> bool:
    """Whether the expert marked anything on ``study``: frame labels, or masks, boxes or
    candidate decisions (detection tasks)."""
    if project.labels(study.id):
        return True
    return any(project.annotation_frames(kind, study_id=study.id)
               for kind in ("mask", "box", "point", "sphere"))


def check_test_set(parent: QWidget | None, project, owns, run) -> str:
    """Whether evaluation can go ahead: ``"evaluate"``, ``"moved"`` (a video was moved to
    the test set but ``run`` trained on it: train again first) or ``"cancel"``.

    Parameters
    ----------
    owns : callable
        ``owns(task_name) -> bool``: the studies of the workspace's task.
    run : core.store.Run or None
        The run to evaluate.
    """
    studies = [s for s in project.studies() if owns(s.task)]
    test = [s for s in studies if s.split == "test"]
    if test:
        if any(_has_truth(project, s) for s in test):
            return "evaluate"
        names = ", ".join(s.name for s in test)
        QMessageBox.information(parent, "Test videos have no labels",
                                f"The test set ({names}) has no labelled frames (or polyp "
                                "masks) yet. Open a test video, label or mask some frames, "
                                "then evaluate.")
        return "cancel"
    train = [s for s in studies if s.split == "train"]
    subjects = {s.subject_id for s in train}
    if len(subjects) < 2:
        QMessageBox.information(
            parent, "No test video",
            "No video is set aside for testing, and the project has only one patient's "
            "videos, which training needs. Import another video into the test set "
            "(File › Import videos…, then choose Test set) and label some of its frames.")
        return "cancel"
    box = QMessageBox(QMessageBox.Icon.Information, "No test video",
                      "No video is set aside for testing: every video of this project is in "
                      "the training set. Evaluation measures the model on videos it never "
                      "trained on.\n\nMove one video (with its patient's other videos) to the "
                      "test set?", parent=parent)
    move = box.addButton("Move a video to the test set…", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    if box.clickedButton() is not move:
        return "cancel"
    labelled = {s.id: len(project.labels(s.id)) for s in train}
    order = sorted(train, key=lambda s: (_seen_by_run(run, s), -labelled[s.id]))
    rows = []
    for s in order:
        row = f"{s.name} — {labelled[s.id]} labelled frames"
        if run is not None and _seen_by_run(run, s):
            row += f" (run {run.id} trained on it)"
        rows.append(row)
    choice, ok = QInputDialog.getItem(parent, "Move a video to the test set",
                                      "Video to hold out for testing:", rows, 0, False)
    if not ok or choice not in rows:
        return "cancel"
    study = order[rows.index(choice)]
    project.set_split(study.id, "test")
    if run is not None and _seen_by_run(run, study):
        QMessageBox.information(
            parent, "Train a new run",
            f"{study.name} is now in the test set. Run {run.id} was trained on it, so it "
            "cannot be tested on it: train a new run (Training › Train, Ctrl+T), then "
            "evaluate.")
        return "moved"
    return "evaluate"
