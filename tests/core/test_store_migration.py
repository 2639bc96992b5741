"""Schema 1 (first release) -> schema 2: nothing lost, a backup first, all or nothing."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from core.store import DB_NAME, SCHEMA_VERSION, Project, ProjectError, schema

INFO = json.dumps({"path": "/data/v1.mp4", "kind": "video", "n_frames": 50})


def make_schema1_project(folder):
    """A project exactly as the first release wrote it (its DDL, its settings keys)."""
    folder.mkdir(parents=True)
    con = sqlite3.connect(folder / DB_NAME)
    for stmt in schema.statements(schema.SCHEMA_1_SQL):
        con.execute(stmt)
    con.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("schema_version", "1"), ("created_app_version", "0.1.0"), ("created", "2026-01-01"),
        ("last_app_version", "0.1.0")])
    studies = [
        (1, "/data/v1.mp4", "h1", "video", "frames", 50, 25.0, 350, 500, "train", "v1", "t0"),
        (2, "/data/frames2", "h2", "folder", "frames", 40, 25.0, 350, 500, "test", "v2", "t0"),
    ]
    con.executemany("INSERT INTO studies VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", studies)
    events = [
        (1, 1, 3, "informative", "expert", "dr_a", "t1", None),
        (2, 1, 3, "non-informative", "expert", "dr_b", "t2", None),
        (3, 1, 4, "informative", "expert", "dr_a", "t3", None),
        (4, 1, 4, None, "expert", "dr_a", "t4", None),  # cleared
        (5, 2, 0, "informative", "expert", "dr_a", "t5", None),
        (6, 1, 3, "informative", "model", "layertune", "t6", "run 1 epoch 2 (fc8)"),
        (7, 1, 9, "non-informative", "model", "layertune", "t6", "run 1 epoch 2 (fc8)"),
    ]
    con.executemany("INSERT INTO label_events VALUES (?,?,?,?,?,?,?,?)", events)
    labels = [
        (1, 3, "expert", "non-informative", "dr_b", "t2", None),
        (2, 0, "expert", "informative", "dr_a", "t5", None),
        (1, 3, "model", "informative", "layertune", "t6", "run 1 epoch 2 (fc8)"),
        (1, 9, "model", "non-informative", "layertune", "t6", "run 1 epoch 2 (fc8)"),
    ]
    con.executemany("INSERT INTO labels VALUES (?,?,?,?,?,?,?)", labels)
    con.execute("INSERT INTO runs VALUES (1, 'frames', 'fc8', ?, 'finished', 's', 'f', 0.75, "
                "'snapshots/run-0001/best.pt', ?)",
                (json.dumps({"seed": 7, "depth": "fc8"}), json.dumps({"stopped": "patience"})))
    con.execute("INSERT INTO snapshots VALUES (1, 1, 2, 'snapshots/run-0001/best.pt', 0.75, ?, "
                "'t')", (json.dumps({"iteration": 40}),))
    frames = np.array([3, 9], "<i8")
    scores = np.array([0.875, 0.125], "<f4")
    con.execute("INSERT INTO scores VALUES (1, 1, ?, ?, 't')", (frames.tobytes(), scores.tobytes()))
    con.executemany("INSERT INTO settings VALUES (?, ?)", [
        ("video_info:1", json.dumps(INFO)), ("demo_truth:1", json.dumps([0, 1, 1])),
        ("demo_ready", json.dumps({"seed": 0})), ("theme", json.dumps("dark"))])
    con.commit()
    con.close()
    return events, labels, frames, scores


def _dump(path):
    con = sqlite3.connect(path)
    out = {t: con.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for (t,) in con.execute(
        "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").fetchall()}
    con.close()
    return out


def test_schema1_project_migrates_keeping_everything(tmp_path):
    folder = tmp_path / "old"
    events, labels, frames, scores = make_schema1_project(folder)
    before = _dump(folder / DB_NAME)
    with Project.open(folder) as p:
        assert p.migrated_from == 1 and p.backup_path.is_file()
        # the backup is the schema-1 database, byte for byte in content
        assert _dump(p.backup_path) == before
        con = sqlite3.connect(folder / DB_NAME)
        assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),)
        con.close()
        # studies: one subject each, split kept, task renamed, index and truth moved
        s1, s2 = p.studies()
        assert (s1.name, s1.split, s1.task, s2.split) == ("v1", "train", "frame_quality", "test")
        assert (s1.kind, s2.kind) == ("video", "frames")
        assert s1.subject_id != s2.subject_id
        assert p.study_index(s1.id) == INFO and p.study_index(s2.id) is None
        assert s1.meta["demo_truth"] == [0, 1, 1]
        assert p.get_setting("theme") == "dark" and p.get_setting("video_info:1") is None
        assert p.get_info("demo") == {"seed": 0}
        # every label, with its provenance
        got = {(lb.study_id, lb.frame, lb.source): (lb.value, lb.user, lb.time, lb.model_version)
               for lb in p.labels(source=None)}
        assert got == {(s, f, src): (v, u, t, mv) for s, f, src, v, u, t, mv in labels}
        # every label event, in order, with its provenance
        hist = [(e.id, e.study_id, e.frame, e.value, e.source, e.user, e.time, e.model_version)
                for e in p.annotation_history(kind="frame_label")]
        assert hist == events
        assert [h.value for h in p.label_history(1, 4)] == ["informative", None]
        # the run, its snapshot and its scores
        run = p.run(1)
        assert (run.task, run.depth, run.best_auc, run.seed) == ("frame_quality", "fc8", 0.75, 7)
        assert run.config == {"seed": 7, "depth": "fc8"} and run.metrics == {"stopped": "patience"}
        snap, = p.snapshots(1)
        assert (snap.epoch, snap.path, snap.val_auc, snap.meta) == (
            2, "snapshots/run-0001/best.pt", 0.75, {"iteration": 40})
        f, sc = p.scores(1, 1)
        np.testing.assert_array_equal(f, frames)
        np.testing.assert_array_equal(sc, scores)  # bit for bit
        pred, = p.predictions(1)
        assert pred.probs.shape == (2, 2) and pred.model_version == "run 1 epoch 2 (fc8)"
        np.testing.assert_allclose(pred.probs.sum(1), 1.0, atol=1e-6)
        # a migrated project works as a new one does
        p.set_label(s1.id, 5, "informative", user="dr_c")
        assert p.label(s1.id, 5).user == "dr_c"
    with Project.open(folder) as p:  # reopening does not migrate again
        assert p.migrated_from is None and len(p.labels()) == 3


def test_failed_migration_leaves_the_original_untouched(tmp_path, monkeypatch):
    folder = tmp_path / "old"
    make_schema1_project(folder)
    before = _dump(folder / DB_NAME)

    def half_then_fail(con):  # does real work first, then fails
        con.execute("ALTER TABLE studies RENAME TO v1_studies")
        con.execute("CREATE TABLE subjects (id INTEGER PRIMARY KEY)")
        raise RuntimeError("disk went away")

    monkeypatch.setattr(schema, "MIGRATIONS", [schema.Migration(1, 2, half_then_fail)])
    with pytest.raises(ProjectError) as info:
        Project.open(folder)
    msg = str(info.value)
    assert "could not be upgraded from schema 1" in msg and "disk went away" in msg
    assert "left as it was" in msg and ".bak" in msg
    assert _dump(folder / DB_NAME) == before
    backups = list(folder.glob(f"{DB_NAME}.schema-1*.bak"))
    assert len(backups) == 1 and _dump(backups[0]) == before
    monkeypatch.undo()  # the real migration then succeeds, keeping everything
    with Project.open(folder) as p:
        assert p.migrated_from == 1 and len(p.labels(source=None)) == 4
    assert len(list(folder.glob(f"{DB_NAME}.schema-1*.bak"))) == 2


def test_missing_backup_space_refuses_before_changing(tmp_path, monkeypatch):
    folder = tmp_path / "old"
    make_schema1_project(folder)
    before = _dump(folder / DB_NAME)

    def no_space(self, version):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("core.store.db.Database._backup", no_space)
    with pytest.raises(ProjectError, match="could not first copy .* as a backup"):
        Project.open(folder)
    assert _dump(folder / DB_NAME) == before
