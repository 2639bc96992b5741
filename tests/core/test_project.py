"""Tests of the project store (core.store) and label editing helpers (core.io.labels_csv)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.io.labels_csv import export_labels_csv, import_labels_csv, study_key
from core.store import DB_NAME, SCHEMA_VERSION, Label, Project, ProjectError, Study
from core.store.history import LabelHistory

ROOT = Path(__file__).resolve().parents[2]


def _add(project: Project, stem: str = "video1", n_frames: int = 100, **kw) -> Study:
    args = dict(
        path=f"/data/patient/{stem}.mp4",
        content_hash=f"hash-{stem}",
        kind="video",
        task="frames",
        n_frames=n_frames,
        fps=25.0,
        height=350,
        width=500,
    )
    args.update(kw)
    return project.add_study(**args)


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "proj") as p:
        yield p


# ---------------------------------------------------------------- opening and errors
def test_create_open_wal_and_meta(tmp_path):
    folder = tmp_path / "a" / "proj"
    p = Project.create(folder)
    assert p.folder == folder and p.snapshots_dir == folder / "snapshots"
    assert p.snapshots_dir.is_dir() and (folder / DB_NAME).is_file()
    p.close()
    con = sqlite3.connect(folder / DB_NAME)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    meta = dict(con.execute("SELECT key, value FROM meta"))
    con.close()
    assert meta["schema_version"] == str(SCHEMA_VERSION)
    assert "created_app_version" in meta
    with Project.open(folder / DB_NAME) as p2:  # the database file itself is accepted
        assert p2.folder == folder
    with Project.open_or_create(folder) as p3:
        assert p3.studies() == []
    with pytest.raises(ProjectError, match="already holds"):
        Project.create(folder)


def test_open_errors_are_clear(tmp_path):
    with pytest.raises(ProjectError, match="does not exist"):
        Project.open(tmp_path / "missing")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hello")
    with pytest.raises(ProjectError, match="is a file"):
        Project.open(a_file)
    with pytest.raises(ProjectError, match="is a file"):
        Project.create(a_file)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ProjectError, match="not a LayerTune project"):
        Project.open(empty)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / DB_NAME).write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ProjectError, match="damaged or is not"):
        Project.open(garbage)
    other = tmp_path / "other"
    other.mkdir()
    con = sqlite3.connect(other / DB_NAME)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    with pytest.raises(ProjectError, match="not a LayerTune project database"):
        Project.open(other)


def test_path_under_a_regular_file_is_refused(tmp_path):
    # Fails for root too, unlike chmod.
    a_file = tmp_path / "file.bin"
    a_file.write_bytes(b"x")
    with pytest.raises(ProjectError, match=str(a_file / "proj")):
        Project.create(a_file / "proj")
    with pytest.raises(ProjectError):
        Project.open_or_create(a_file / "proj")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions"
)
def test_unwritable_folder_named_and_labels_kept(tmp_path):
    folder = tmp_path / "proj"
    with Project.create(folder) as p:
        study = _add(p)
        p.set_label(study.id, 3, "informative")
    folder.chmod(0o500)
    try:
        with pytest.raises(ProjectError, match=str(folder)):
            Project.open(folder)
        with pytest.raises(ProjectError, match=str(folder)):
            Project.create(folder / "sub")
    finally:
        folder.chmod(0o700)
    with Project.open(folder) as p:
        assert [lb.frame for lb in p.labels()] == [3]


def test_newer_schema_refused_without_writing(tmp_path):
    folder = tmp_path / "proj"
    with Project.create(folder) as p:
        study = _add(p)
        p.set_label(study.id, 1, "informative")
    con = sqlite3.connect(folder / DB_NAME)
    con.execute("UPDATE meta SET value='7' WHERE key='schema_version'")
    con.execute("UPDATE meta SET value='9.9.9' WHERE key='last_app_version'")
    con.commit()
    con.close()
    before = (folder / DB_NAME).read_bytes()
    with pytest.raises(ProjectError) as info:
        Project.open(folder)
    message = str(info.value)
    assert "newer LayerTune" in message and "schema 7" in message and "9.9.9" in message
    assert "Nothing was changed" in message
    assert (folder / DB_NAME).read_bytes() == before
    con = sqlite3.connect(folder / DB_NAME)
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("7",)
    assert con.execute("SELECT count(*) FROM labels").fetchone() == (1,)
    con.close()


def test_closed_project_raises(tmp_path):
    p = Project.create(tmp_path / "proj")
    p.close()
    p.close()  # idempotent
    with pytest.raises(ProjectError, match="closed"):
        p.studies()


# ---------------------------------------------------------------- studies
def test_studies_crud(project):
    s1 = _add(project, "video1")
    assert (s1.name, s1.split, s1.task, s1.n_frames, s1.fps) == (
        "video1",
        "train",
        "frames",
        100,
        25.0,
    )
    assert s1.added and s1.path.endswith("video1.mp4")
    again = project.add_study(
        "/moved/video1.mp4", "hash-video1", "video", "frames", 100, 25.0, 350, 500
    )
    assert again.id == s1.id and again.path == str(Path("/moved/video1.mp4"))
    assert len(project.studies()) == 1
    # Another study whose file has the same stem gets a unique name.
    s2 = project.add_study(
        "/other/video1.mp4", "hash-x", "video", "frames", 10, 30.0, 8, 8, split="test"
    )
    assert s2.name == "video1-2" and s2.split == "test"
    s3 = _add(project, "series", task="emboli", kind="dicom", name="CT A")
    assert [s.id for s in project.studies("frames")] == [s1.id, s2.id]
    assert project.studies("emboli") == [s3]
    assert project.find_study("CT A") == s3
    assert project.find_study(str(s2.id)) == s2 and project.find_study(s1.id) == again
    with pytest.raises(ProjectError, match="no study named"):
        project.find_study("nobody")
    with pytest.raises(ProjectError, match="no study number"):
        project.study(999)
    project.set_split(s1.id, "test")
    assert project.study(s1.id).split == "test"
    with pytest.raises(ValueError, match="'train', 'test'"):
        project.set_split(s1.id, "validation")
    with pytest.raises(ValueError, match="split"):
        _add(project, "v9", split="val")


# ---------------------------------------------------------------- labels
def test_labels_provenance_and_history(project):
    s = _add(project)
    other = _add(project, "video2")
    lb = project.set_label(s.id, 5, "informative", user="dr_a")
    assert isinstance(lb, Label)
    assert (lb.study_id, lb.frame, lb.value, lb.source, lb.user, lb.model_version) == (
        s.id,
        5,
        "informative",
        "expert",
        "dr_a",
        None,
    )
    assert lb.time[:4].isdigit() and "T" in lb.time
    project.set_label(s.id, 5, "non-informative", user="dr_b")
    project.set_label(s.id, 7, "informative")  # default user: the OS user
    project.set_label(other.id, 0, "informative", user="dr_a")
    project.set_label(
        s.id, 5, "informative", source="model", user="trainer", model_version="run1/epoch3"
    )
    current = {(x.study_id, x.frame): (x.value, x.user) for x in project.labels()}
    assert current[(s.id, 5)] == ("non-informative", "dr_b")
    assert current[(s.id, 7)][1]
    assert len(current) == 3
    assert [x.frame for x in project.labels(s.id)] == [5, 7]
    model = project.labels(source="model")
    assert [(m.value, m.model_version) for m in model] == [("informative", "run1/epoch3")]
    assert len(project.labels(s.id, source=None)) == 3
    project.clear_label(s.id, 5, user="dr_c")
    assert project.label(s.id, 5) is None
    assert project.label(s.id, 5, source="model") is not None  # other source untouched
    history = project.label_history(s.id, 5)
    assert [(h.value, h.source, h.user) for h in history] == [
        ("informative", "expert", "dr_a"),
        ("non-informative", "expert", "dr_b"),
        ("informative", "model", "trainer"),
        (None, "expert", "dr_c"),
    ]
    assert [h.id for h in history] == sorted(h.id for h in history)


def test_label_validation_and_atomic_batch(project):
    s = _add(project, n_frames=10)
    with pytest.raises(ValueError, match="'informative', 'non-informative'"):
        project.set_label(s.id, 1, "blurry")
    with pytest.raises(ValueError, match="outside"):
        project.set_label(s.id, 10, "informative")
    with pytest.raises(ValueError, match="outside"):
        project.set_label(s.id, -1, "informative")
    with pytest.raises(ValueError, match="no study"):
        project.set_label(999, 1, "informative")
    with pytest.raises(ValueError, match="source"):
        project.set_label(s.id, 1, "informative", source="guess")
    with pytest.raises(ValueError):
        project.set_labels([(s.id, 1, "informative"), (s.id, 2, "bad")])
    assert project.labels() == []  # the batch was all or nothing
    assert project.label_history(s.id, 1) == []
    assert project.set_labels([(s.id, i, "informative") for i in range(4)], user="u") == 4
    assert [lb.frame for lb in project.labels()] == [0, 1, 2, 3]


def test_labels_survive_reopen(tmp_path):
    folder = tmp_path / "proj"
    with Project.create(folder) as p:
        s = _add(p)
        p.set_label(s.id, 2, "informative", user="dr_a")
    with Project.open(folder) as p:
        assert [(lb.frame, lb.value, lb.user) for lb in p.labels()] == [(2, "informative", "dr_a")]


# ---------------------------------------------------------------- scores, runs, settings
def test_scores_round_trip_and_replace(project):
    s = _add(project)
    run = project.start_run("frames", "fc8", {"lr": 0.001})
    frames, scores = project.scores(run.id, s.id)
    assert frames.size == 0 and scores.size == 0
    f = np.arange(0, 100, 5)
    sc = np.linspace(0, 1, f.size)
    project.put_scores(run.id, s.id, f, sc)
    got_f, got_s = project.scores(run.id, s.id)
    assert got_f.dtype == np.int64 and got_s.dtype == np.float32
    np.testing.assert_array_equal(got_f, f)
    np.testing.assert_allclose(got_s, sc, atol=1e-7)
    project.put_scores(run.id, s.id, np.array([1, 2]), np.array([0.25, 0.75]))
    got_f, got_s = project.scores(run.id, s.id)
    np.testing.assert_array_equal(got_f, [1, 2])
    np.testing.assert_array_equal(got_s, np.array([0.25, 0.75], np.float32))
    with pytest.raises(ValueError, match="equal length"):
        project.put_scores(run.id, s.id, np.arange(3), np.zeros(2))
    with pytest.raises(ValueError, match="integers"):
        project.put_scores(run.id, s.id, np.array([0.5]), np.zeros(1))
    with pytest.raises(ProjectError):  # foreign key: no such run
        project.put_scores(999, s.id, np.arange(2), np.zeros(2))


def test_runs_and_snapshots(project):
    run = project.start_run("frames", "conv4", {"lr": 0.01, "seed": np.int64(3)})
    assert run.status == "running" and run.finished is None and run.config["seed"] == 3
    snap_path = project.snapshots_dir / "run1_epoch2.pt"
    snap = project.add_snapshot(run.id, 2, snap_path, np.float32(0.875), {"iters": 40})
    assert snap.path == "snapshots/run1_epoch2.pt" and snap.val_auc == 0.875
    project.add_snapshot(run.id, 3, "snapshots/run1_epoch3.pt", None)
    assert [x.epoch for x in project.snapshots(run.id)] == [2, 3]
    done = project.finish_run(
        run.id,
        "finished",
        best_auc=0.9,
        best_snapshot=snap_path,
        metrics={"auc": [0.5, 0.9], "arr": np.array([1, 2])},
    )
    assert done.status == "finished" and done.finished is not None
    assert done.best_snapshot == "snapshots/run1_epoch2.pt" and done.best_auc == 0.9
    assert done.metrics == {"auc": [0.5, 0.9], "arr": [1, 2]}
    run2 = project.start_run("frames", "scratch", {})
    project.finish_run(run2.id, "cancelled")
    assert [(r.id, r.status) for r in project.runs()] == [
        (run.id, "finished"),
        (run2.id, "cancelled"),
    ]
    with pytest.raises(ValueError, match="'finished', 'cancelled', 'failed'"):
        project.finish_run(run.id, "done")
    with pytest.raises(ProjectError, match="no training run"):
        project.run(42)


def test_settings(project):
    assert project.get_setting("demo") is None
    assert project.get_setting("demo", {"x": 1}) == {"x": 1}
    project.set_setting("demo", {"videos": ["a", "b"], "fps": 0.2})
    project.set_setting("theme", "dark")
    project.set_setting("theme", "light")
    assert project.get_setting("demo") == {"fps": 0.2, "videos": ["a", "b"]}
    assert project.get_setting("theme") == "light"
    with pytest.raises(TypeError, match="JSON"):
        project.set_setting("bad", object())


def test_two_threads_share_a_project(project):
    s = _add(project, n_frames=1000)
    run = project.start_run("frames", "fc8", {})
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for i in range(30):
                project.put_scores(run.id, s.id, np.arange(100), np.full(100, i / 30))
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    t = threading.Thread(target=worker)
    t.start()
    for frame in range(30):
        project.set_label(s.id, frame, "informative", user="gui")
        project.labels(s.id)
    t.join()
    assert errors == []
    assert len(project.labels(s.id)) == 30
    assert project.scores(run.id, s.id)[1][0] == pytest.approx(29 / 30)


# ---------------------------------------------------------------- undo / redo
def test_label_history_undo_redo(tmp_path):
    folder = tmp_path / "proj"
    p = Project.create(folder)
    s = _add(p)
    h = LabelHistory(p, user="dr_a")
    assert not h.can_undo and not h.can_redo and h.undo() is None and h.redo() is None
    h.set(s.id, 1, "informative")
    h.set(s.id, 1, "non-informative")
    h.set(s.id, 2, "informative")
    h.set(s.id, 2, "informative")  # no change: not an undo step
    assert h.undo() == (s.id, 2) and p.label(s.id, 2) is None
    assert h.undo() == (s.id, 1) and p.label(s.id, 1).value == "informative"
    assert h.can_redo
    # Every step is already in the database: a second connection sees it.
    with Project.open(folder) as other:
        assert [(lb.frame, lb.value) for lb in other.labels()] == [(1, "informative")]
    assert h.redo() == (s.id, 1) and p.label(s.id, 1).value == "non-informative"
    h.clear(s.id, 1)
    assert p.label(s.id, 1) is None
    assert not h.can_redo  # a new edit drops the undone branch
    assert h.redo() is None
    assert h.undo() == (s.id, 1) and p.label(s.id, 1).value == "non-informative"
    assert h.undo() == (s.id, 1) and h.undo() == (s.id, 1)
    assert p.labels() == [] and not h.can_undo
    assert [e.value for e in p.label_history(s.id, 1)][-2:] == ["informative", None]
    assert {e.user for e in p.label_history(s.id, 1)} == {"dr_a"}
    p.close()


def test_label_history_failed_write_keeps_stack(project):
    s = _add(project, n_frames=5)
    h = LabelHistory(project, user="u")
    with pytest.raises(ValueError):
        h.set(s.id, 9, "informative")
    assert not h.can_undo


# ---------------------------------------------------------------- CSV
def test_csv_round_trip_deidentified(tmp_path, project):
    s1 = _add(project, "Case 001")
    s2 = _add(project, "Case 002")
    project.set_label(s1.id, 3, "informative")
    project.set_label(s1.id, 1, "non-informative")
    project.set_label(s2.id, 0, "informative")
    out = tmp_path / "labels.csv"
    assert export_labels_csv(project, out) == 3
    text = out.read_text()
    k1, k2 = study_key(s1), study_key(s2)
    assert re.fullmatch(r"study-[0-9a-f]{12}", k1) and k1 != k2
    assert sorted(text.splitlines()[1:]) == sorted(
        [f"{k1},1,non-informative", f"{k1},3,informative", f"{k2},0,informative"])
    assert text.splitlines()[0] == "study,frame,label"
    # de-identified by default: neither the path nor the name (file names carry patient IDs)
    assert "/data/patient" not in text and "Case" not in text
    full = tmp_path / "full.csv"
    export_labels_csv(project, full, deidentify=False)
    assert "/data/patient" in full.read_text() and "Case 001,1,non-informative" in \
        full.read_text()

    for exported in (out, full):  # both import into another project holding the videos
        with Project.create(tmp_path / f"copy-{exported.stem}") as copy:
            c1 = _add(copy, "Case 001")
            c2 = _add(copy, "Case 002")
            assert import_labels_csv(copy, exported, user="importer") == 3
            got = {(lb.study_id, lb.frame, lb.value, lb.user) for lb in copy.labels()}
            assert got == {
                (c1.id, 1, "non-informative", "importer"),
                (c1.id, 3, "informative", "importer"),
                (c2.id, 0, "informative", "importer"),
            }


def test_csv_import_takes_file_names_and_key_letters(tmp_path, project):
    """``cvc_mix.avi`` (the file as imported) was refused, only ``cvc_mix`` taken; I/N too."""
    s = _add(project, "cvc_mix", path="/data/cvc_mix.avi")
    f = tmp_path / "in.csv"
    f.write_text("study,frame,label\ncvc_mix.avi,0,I\ncvc_mix.avi,1,n\ncvc_mix,2,i\n"
                 "cvc_mix,3,N\n")
    assert import_labels_csv(project, f) == 4
    assert [(lb.study_id, lb.frame, lb.value) for lb in project.labels()] == [
        (s.id, 0, "informative"), (s.id, 1, "non-informative"), (s.id, 2, "informative"),
        (s.id, 3, "non-informative")]
    _add(project, "other", path="/elsewhere/cvc_mix.avi", content_hash="hash-2")
    with pytest.raises(ProjectError, match="2 studies were imported from files named"):
        import_labels_csv(project, f)


def test_csv_import_accepts_ids_and_digits(tmp_path, project):
    s = _add(project, "v")
    f = tmp_path / "in.csv"
    f.write_text(f"Study,Frame,Label\n{s.id},4,1\nv,5,0\n\nv,6, Informative \nv,5,0\n")
    assert import_labels_csv(project, f) == 3
    assert [(lb.frame, lb.value) for lb in project.labels()] == [
        (4, "informative"),
        (5, "non-informative"),
        (6, "informative"),
    ]


def test_csv_import_bad_lines_name_file_and_line(tmp_path, project):
    _add(project, "v", n_frames=10)
    f = tmp_path / "bad.csv"
    f.write_text(
        "study,frame,label\n"
        "v,1,informative\n"  # line 2: fine
        "nobody,1,informative\n"  # line 3
        "v,x,informative\n"  # line 4
        "v,2,blurry\n"  # line 5
        "v,1,0\n"  # line 6: contradicts line 2
        "v,99,1\n"  # line 7: past the end
        "v,3\n"
    )  # line 8: too few columns
    with pytest.raises(ProjectError) as info:
        import_labels_csv(project, f)
    message = str(info.value)
    assert str(f) in message and "nothing was changed" in message
    for line in (3, 4, 5, 6, 7, 8):
        assert f"line {line}:" in message
    assert "line 2:" not in message and "'nobody'" in message and "line 2" in message
    assert project.labels() == []
    no_header = tmp_path / "nh.csv"
    no_header.write_text("v,1,informative\n")
    with pytest.raises(ProjectError, match="line 1"):
        import_labels_csv(project, no_header)
    with pytest.raises(ProjectError, match="Cannot read"):
        import_labels_csv(project, tmp_path / "absent.csv")
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81" * 10)
    with pytest.raises(ProjectError, match="not a text CSV"):
        import_labels_csv(project, binary)


# ---------------------------------------------------------------- crash safety
_CRASH_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from core.store import Project
    p = Project.open(sys.argv[2])
    sid = int(sys.argv[3])
    for frame in range(100000):
        p.set_label(sid, frame, "informative" if frame % 2 else "non-informative", user="crash")
        print("ack", frame, flush=True)
""")


def test_labels_survive_sigkill_mid_labelling(tmp_path):
    folder = tmp_path / "proj"
    with Project.create(folder) as p:
        sid = _add(p, n_frames=100000).id
    proc = subprocess.Popen(
        [sys.executable, "-c", _CRASH_SCRIPT, str(ROOT), str(folder), str(sid)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked: list[int] = []
    deadline = time.monotonic() + 60
    try:
        while len(acked) < 50:
            line = proc.stdout.readline()
            assert line, f"writer died early: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "writer too slow"
            acked.append(int(line.split()[1]))
        os.kill(proc.pid, signal.SIGKILL)  # while it is still writing
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    # Lines already in the pipe were acknowledged too.
    acked += [
        int(line.split()[1]) for line in proc.stdout.read().splitlines() if line.startswith("ack ")
    ]
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert acked == list(range(len(acked))) and len(acked) < 100000
    with Project.open(folder) as p:
        stored = {lb.frame: lb.value for lb in p.labels(sid)}
    for frame in acked:
        assert stored.get(frame) == ("informative" if frame % 2 else "non-informative")
    # At most the one label being written when killed may be there without its ack.
    assert len(stored) - len(acked) in (0, 1)
