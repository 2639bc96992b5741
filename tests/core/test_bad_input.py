"""Bad input found by a mutation harness (issue 6, items 18-20, 23): each one gets a
message that names the file and the problem, and the CLI's exit code 4, never a crash
or a raw Python exception."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli import EXIT_INPUT, main
from core.events import drain
from core.io.base import BadNameError, UnsupportedInputError
from core.io.registry import reader_for
from core.store import Project, ProjectError
from core.synth import make_video

ROOT = Path(__file__).resolve().parents[2]


def _video(path: Path) -> Path:
    return Path(drain(make_video(path, 6, np.random.default_rng(0), size=(48, 64))).path)


def _rename_to_bytes(src: Path, dest: bytes) -> str:
    """Move ``src`` to a path whose name holds bytes that are not UTF-8; the path as
    Python hands it around (undecodable bytes as lone surrogates)."""
    os.rename(os.fsencode(src), dest)
    return os.fsdecode(dest)


def _cli(*argv: bytes | str) -> subprocess.CompletedProcess:
    """The CLI in its own process (a decoder crash must not take the tests down)."""
    code = "import sys; from core.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True,
                          timeout=120)


# ------------------------------------------------------------------ item 18: names
def test_video_whose_name_is_not_utf8_is_refused_before_opencv(tmp_path):
    """OpenCV segfaulted on ``clip\\xff.mp4``, taking the whole program down."""
    bad = _rename_to_bytes(_video(tmp_path / "ok.mp4"), os.fsencode(tmp_path) + b"/clip\xff.mp4")
    assert os.path.isfile(bad)  # a real video under a real non-UTF-8 name
    with pytest.raises(BadNameError) as info:
        reader_for(bad)
    assert isinstance(info.value, UnsupportedInputError)
    assert "clip\\xff.mp4" in str(info.value) and "UTF-8" in str(info.value)
    r = _cli(b"import", b"--project", os.fsencode(tmp_path / "p"), os.fsencode(bad))
    err = r.stderr.decode()
    assert r.returncode == EXIT_INPUT, err
    assert "clip\\xff.mp4" in err and "Rename it" in err
    assert not (tmp_path / "p").exists()  # refused before a project was made


def test_folders_with_latin1_names_are_refused_with_the_folder_named(tmp_path):
    """A Latin-1 folder name failed with "surrogates not allowed" (SQLite)."""
    folder = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(folder)
    inside = _rename_to_bytes(_video(tmp_path / "ok.mp4"), folder + b"/visit.mp4")
    with pytest.raises(BadNameError, match=r"folder \u201ccaf\\xe9\u201d"):
        reader_for(inside)
    # a frame folder whose frames have such names, and an image set's images/ subfolder
    frames = tmp_path / "frames"
    frames.mkdir()
    import cv2

    cv2.imwrite(str(frames / "0001.png"), np.zeros((8, 8, 3), np.uint8))
    os.close(os.open(os.fsencode(frames) + b"/0002\xff.png", os.O_CREAT | os.O_WRONLY))
    with pytest.raises(BadNameError, match=r"0002\\xff\.png"):
        reader_for(frames)
    r = _cli(b"import", b"--project", os.fsencode(tmp_path / "p"), folder)
    assert r.returncode == EXIT_INPUT and "caf\\xe9" in r.stderr.decode()
    # a stray non-image file with such a name inside a frame folder is harmless
    os.unlink(os.fsencode(frames) + b"/0002\xff.png")
    os.close(os.open(os.fsencode(frames) + b"/notes\xff.txt", os.O_CREAT | os.O_WRONLY))
    assert reader_for(frames).name == "frames"


# ------------------------------------------------------------------ item 19: a stray quote
def _labels_project(tmp_path: Path, n_frames: int = 20000) -> Path:
    with Project.create(tmp_path / "p") as p:
        p.add_study("/data/v.mp4", "hash-v", "video", "frame_quality", n_frames, 25.0, 64, 96)
    return tmp_path / "p"


def test_stray_quote_in_a_large_labels_csv_names_its_line(tmp_path, capsys):
    """One stray quote in a large Excel-edited file gave ``_csv.Error``, exit 1."""
    proj = _labels_project(tmp_path)
    rows = [f"v,{f},{'I' if f % 2 else 'N'}" for f in range(15000)]
    rows[5] = 'v,5,"informative'  # line 7 (the header is line 1)
    f = tmp_path / "labels.csv"
    f.write_text("study,frame,label\n" + "\n".join(rows) + "\n")
    assert f.stat().st_size > 131072
    rc = main(["labels", "import", "--project", str(proj), str(f)])
    err = capsys.readouterr().err
    assert rc == EXIT_INPUT, err
    assert f"{f}, line 7:" in err and "quote" in err and "never closed" in err
    assert "131,072 characters" in err and "_csv" not in err
    with Project.open(proj) as p:
        assert p.labels() == []  # nothing half-imported
    # in a small file the same quote swallows the rows after it: said, not imported
    small = tmp_path / "small.csv"
    small.write_text('study,frame,label\nv,0,I\nv,1,"N\nv,2,I\nv,3,N\n')
    with Project.open(proj) as p, pytest.raises(ProjectError, match="line 3: a cell there "
                                                "opens with a quote"):
        from core.io.labels_csv import import_labels_csv

        import_labels_csv(p, small)


def test_stray_quote_in_a_large_scores_csv_names_its_line(tmp_path, capsys):
    lines = [f"{(i % 97) / 97:.4f},{i % 2}" for i in range(20000)]
    lines[100] = '"0.5,1'  # line 102
    f = tmp_path / "scores.csv"
    f.write_text("score,label\n" + "\n".join(lines) + "\n")
    rc = main(["stats", "roc", "--scores", str(f)])
    err = capsys.readouterr().err
    assert rc == EXIT_INPUT, err
    assert f"{f}, line 102:" in err and "never closed" in err


# ------------------------------------------------------------------ item 20: huge numbers
def test_study_id_too_large_for_sqlite_is_a_line_error(tmp_path, capsys):
    """A study id too large for SQLite raised ``OverflowError``, exit 1."""
    proj = _labels_project(tmp_path, n_frames=10)
    f = tmp_path / "labels.csv"
    huge = "9" * 30
    f.write_text(f"study,frame,label\nv,1,I\n{huge},2,N\n{2**63},3,I\nv,{huge},N\n")
    rc = main(["labels", "import", "--project", str(proj), str(f)])
    err = capsys.readouterr().err
    assert rc == EXIT_INPUT, err
    assert "Overflow" not in err and "unexpected" not in err
    assert f"line 3: there is no study named '{huge}'" in err
    assert f"line 4: there is no study named '{2**63}'" in err
    assert "line 5: frame 999999" in err and "too large" in err
    with Project.open(proj) as p:
        with pytest.raises(ProjectError, match="no study number"):
            p.study(2**64)
        with pytest.raises(ProjectError, match="no study named"):
            p.find_study(str(2**70))
        assert p.labels() == []


# ------------------------------------------------------------------ item 23: damaged database
def _damage(folder: Path, sql: str) -> None:
    """Write damaged values as a byte flip would leave them (bypassing the store)."""
    import sqlite3

    con = sqlite3.connect(folder / "layertune.sqlite")
    con.execute(sql)
    con.commit()
    con.close()


def _run_project(tmp_path: Path) -> Path:
    with Project.create(tmp_path / "p") as p:
        p.add_study("/data/v.mp4", "hash-v", "video", "frame_quality", 10, 25.0, 64, 96,
                    meta={"spacing_mm": 0.1})
        r = p.start_run("frame_quality", "fc8", {"seed": 1}, task_options={"test_crops": 2})
        p.finish_run(r.id, "finished", best_auc=0.8)
    return tmp_path / "p"


@pytest.mark.parametrize("sql, what, command", [
    ("UPDATE runs SET config='{\"seed\": 1,'", "the settings of run 1", ["runs"]),
    ("UPDATE runs SET task_options='[not json'", "the task options of run 1", ["runs"]),
    ("UPDATE studies SET meta='{\"spacing_mm\" 0.1}'", "the metadata of study 1",
     ["labels", "export", "OUT"]),
    ("UPDATE studies SET meta=CAST(x'7b22ff22' AS TEXT)", "", ["labels", "export", "OUT"]),
])
def test_damaged_values_are_a_damaged_project_naming_the_database(tmp_path, capsys, sql, what,
                                                                  command):
    """Invalid JSON or undecodable bytes gave JSONDecodeError/UnicodeDecodeError."""
    proj = _run_project(tmp_path)
    _damage(proj, sql)
    db = proj / "layertune.sqlite"
    with Project.open(proj) as p, pytest.raises(ProjectError) as info:
        p.runs() if command == ["runs"] else p.studies()
    message = str(info.value)
    assert f"The project database {db} is damaged" in message and what in message
    assert "There is no automatic backup" in message
    # with the automatic backup beside it, the message points to it
    (proj / "layertune.sqlite.schema-1.bak").write_bytes(b"")
    argv = [str(tmp_path / "out.csv") if a == "OUT" else a for a in command]
    rc = main([*argv[:2], "--project", str(proj), *argv[2:]] if len(argv) > 1
              else [argv[0], "--project", str(proj)])
    err = capsys.readouterr().err
    assert rc == EXIT_INPUT, err
    assert "is damaged" in err and "layertune.sqlite.schema-1.bak" in err
    assert "Error" not in err.split("(")[0]  # no raw exception name before the detail


def test_undecodable_meta_table_is_a_damaged_project(tmp_path):
    """A byte flip in the meta table raised UnicodeDecodeError while opening."""
    proj = _run_project(tmp_path)
    _damage(proj, "UPDATE meta SET value=CAST(x'41ff42' AS TEXT) WHERE key='created'")
    with pytest.raises(ProjectError, match="layertune.sqlite is damaged"):
        Project.open(proj)


@pytest.mark.parametrize("sql", [
    "UPDATE annotations SET frame=NULL",  # a label that lost its frame number
    "UPDATE annotations SET kind='mask', geometry=x'00ff00'",  # a mask that is no image
    "UPDATE annotation_events SET kind='box', geometry=x'7b2272'",  # half a JSON box
])
def test_damaged_annotations_are_a_damaged_project(tmp_path, sql):
    """A byte flip in an annotation row raised TypeError deep inside labels()."""
    proj = _run_project(tmp_path)
    with Project.open(proj) as p:
        p.set_label(1, 3, "informative")
    import sqlite3

    con = sqlite3.connect(proj / "layertune.sqlite")
    con.execute("PRAGMA ignore_check_constraints=1")
    con.execute(sql)
    con.commit()
    con.close()
    with Project.open(proj) as p, pytest.raises(ProjectError, match="is damaged.*annotation 1"):
        p.annotations(source=None) if "events" not in sql else p.annotation_history()
