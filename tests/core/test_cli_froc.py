"""``layertune stats froc`` end to end: CSV files in, FROC points with CIs out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.cli import EXIT_INPUT, EXIT_OK, EXIT_USAGE, main
from core.io.froc_csv import read_froc_csv

# The hand-computed example of tests/core/test_stats_froc.py, as the three files.
CANDIDATES = """image_id,score,lesion_id,ignore
f1,0.95,1,
f1,0.90,1,0
f1,0.80,,
f2,0.85,2,
f2,0.60,,1
f3,0.70,,
f4,0.50,1,
f4,0.50,,
f4,0.40,,
f2,0.30,1,1
f3,0.20,,
"""
LESIONS = "image_id,lesion_id\nf1,1\nf2,1\nf2,2\nf4,1\nf5,1\n"
IMAGES = "image_id,video\nf1,A\nf2,A\nf3,A\nf4,B\nf5,B\nf6,B\n"


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def files(tmp_path):
    paths = {}
    for name, text in (("cands", CANDIDATES), ("lesions", LESIONS), ("images", IMAGES)):
        paths[name] = tmp_path / f"{name}.csv"
        paths[name].write_text(text)
    return paths


def froc(files, *extra):
    return ("stats", "froc", "--candidates", files["cands"], "--lesions", files["lesions"],
            *extra)


def test_json_matches_the_hand_computed_example(files, capsys):
    rc, out, _ = run(capsys, *froc(files, "--images", files["images"], "--group-column",
                                   "video", "--json", "--bootstrap", "200"))
    assert rc == EXIT_OK
    d = json.loads(out)
    assert [p["fp_rate"] for p in d["points"]] == [0.125, 0.25, 0.5, 1, 2, 4, 8]
    np.testing.assert_allclose([p["sensitivity"] for p in d["points"]],
                               [0.4, 0.4, 0.6, 0.6, 0.6, 0.6, 0.6], atol=1e-12)
    assert d["cpm"] == pytest.approx(3.8 / 7)
    assert (d["n_lesions"], d["n_images"], d["n_groups"], d["n_tp"], d["n_fp"]) == \
        (5, 6, 2, 3, 5)
    assert (d["n_ignored"], d["n_duplicates"], d["resampled"]) == (2, 1, "group")
    lo, hi = d["cpm_ci"]
    assert lo <= d["cpm"] <= hi
    assert any("Only 2 groups" in v for v in d["verdict"])


def test_text_report(files, capsys):
    rc, out, _ = run(capsys, *froc(files, "--images", files["images"], "--fps", "0.25,0.5",
                                   "--bootstrap", "0"))
    assert rc == EXIT_OK
    assert "5 lesions in 6 images; 3 detected (TP), 5 false positives" in out
    assert "CPM 0.500" in out  # (0.4 + 0.6) / 2
    rows = [ln.split() for ln in out.splitlines() if ln.strip().startswith(("0.25", "0.5 "))]
    assert rows == [["0.25", "0.400", "-", "0.8"], ["0.5", "0.600", "-", "0.5"]]
    assert "verdict: CPM 0.500" in out and "bootstrap was off" in out


def test_images_file_adds_frames_with_nothing(files, capsys):
    _, out, _ = run(capsys, *froc(files, "--json", "--bootstrap", "0"))
    assert json.loads(out)["n_images"] == 5  # f6 appears in neither file
    _, out, _ = run(capsys, *froc(files, "--images", files["images"], "--json",
                                  "--bootstrap", "0"))
    assert json.loads(out)["n_images"] == 6


def test_seed_repeats_and_per_group(files, capsys):
    args = froc(files, "--images", files["images"], "--group-column", "video", "--json",
                "--bootstrap", "300")
    a = json.loads(run(capsys, *args, "--seed", "3")[1])
    b = json.loads(run(capsys, *args, "--seed", "3")[1])
    assert a == b
    rc, out, _ = run(capsys, *args, "--per", "group", "--fps", "1,1.5")
    d = json.loads(out)
    assert rc == EXIT_OK and d["per"] == "group"
    assert [p["sensitivity"] for p in d["points"]] == pytest.approx([0.4, 0.6])


def test_group_column_in_candidates_and_lesions(tmp_path, capsys):
    c = tmp_path / "c.csv"
    c.write_text("Image_ID,Score,Lesion_ID,patient\nf1,0.9,1,P1\nf2,0.4,,P2\nf3,0.3,,P2\n")
    les = tmp_path / "l.csv"
    les.write_text("\ufeffimage_id,lesion_id,patient\nf1,1,P1\n\nf3,1,P2\n")  # BOM, blank
    rc, out, _ = run(capsys, "stats", "froc", "--candidates", c, "--lesions", les,
                     "--group-column", "Patient", "--json", "--bootstrap", "50")
    d = json.loads(out)
    assert rc == EXIT_OK and d["n_groups"] == 2 and d["n_images"] == 3 and d["n_tp"] == 1
    t = read_froc_csv(c, les, group_column="patient")
    assert t.groups == {"f1": "P1", "f3": "P2", "f2": "P2"}
    assert t.lesions == [("f1", "1"), ("f3", "1")] and t.images is None


def test_stats_roc_still_works(tmp_path, capsys):
    f = tmp_path / "scores.csv"
    f.write_text("score,label\n0.1,0\n0.4,0\n0.35,1\n0.8,1\n0.7,1\n0.2,0\n")
    rc, out, _ = run(capsys, "stats", "roc", "--scores", f, "--json")
    assert rc == EXIT_OK and json.loads(out)["n_pos"] == 3


@pytest.mark.parametrize(
    "which, text, message",
    [
        ("cands", CANDIDATES.replace("f4,0.40", "f4,abc"), "cands.csv:10: score 'abc' is not"),
        ("cands", CANDIDATES.replace("f4,0.40", "f4,inf"), "cands.csv:10: score 'inf' is not "
         "finite"),
        ("cands", CANDIDATES.replace("f2,0.60,,1", "f2,0.60,,yes"), "cands.csv:6: ignore"),
        ("cands", CANDIDATES.replace("f2,0.85,2,", "f2,0.85,7,"),
         "cands.csv:5: lesion '7' of image 'f2' is not in the lesions file"),
        ("cands", CANDIDATES.replace("f3,0.70", "f9,0.70"), "cands.csv:7: image 'f9' is not "
         "in the images file"),
        ("cands", CANDIDATES.replace("f3,0.70,,", ",0.70,,"), "cands.csv:7: image_id is "
         "empty"),
        ("cands", "image_id,score\nf1,0.3\n", "cands.csv:1: header must name columns"),
        ("cands", CANDIDATES.replace("f1,0.80,,", "f1,0.80"), "cands.csv:4: expected 4 "
         "columns, got 2"),
        ("lesions", LESIONS + "f1,1\n", "lesions.csv:7: lesion '1' of image 'f1' is listed "
         "twice (also line 2)"),
        ("lesions", "image_id,lesion_id\n", "no lesions"),
        ("lesions", LESIONS.replace("f5,1", "f7,1"), "lesions.csv:6: image 'f7' is not in "
         "the images file"),
        ("images", IMAGES + "f2,B\n", "images.csv:8: image 'f2' is listed twice"),
        ("images", IMAGES.replace("f6,B", "f6,"), "images.csv:7: group column 'video' is "
         "empty"),
        ("images", 'image_id,video\nf1,"A\nf2,A\n', "images.csv, line 2: a cell there opens"),
    ],
)
def test_bad_files_name_file_and_line(files, capsys, which, text, message):
    files[which].write_text(text)
    rc, _, err = run(capsys, *froc(files, "--images", files["images"], "--group-column",
                                   "video"))
    assert rc == EXIT_INPUT
    assert message in err, err


def test_group_problems(files, tmp_path, capsys):
    c = tmp_path / "c.csv"
    c.write_text("image_id,score,lesion_id,video\nf1,0.9,1,A\nf2,0.5,,B\n")
    rc, _, err = run(capsys, *froc({**files, "cands": c}, "--images", files["images"],
                                   "--group-column", "video"))
    assert rc == EXIT_INPUT
    assert "c.csv:3: image 'f2' is in group 'B' here but in group 'A' at" in err
    assert "images.csv:3" in err
    rc, _, err = run(capsys, *froc(files, "--group-column", "video"))
    assert rc == EXIT_INPUT and "group column 'video' is in none of" in err
    c.write_text("image_id,score,lesion_id,video\nf1,0.9,1,A\nf3,0.5,,\n")
    rc, _, err = run(capsys, *froc({**files, "cands": c}, "--group-column", "video"))
    assert rc == EXIT_INPUT and "c.csv:3: group column 'video' is empty" in err
    c.write_text("image_id,score,lesion_id,video\nf1,0.9,1,A\n")
    rc, _, err = run(capsys, *froc({**files, "cands": c}, "--group-column", "video"))
    assert rc == EXIT_INPUT and "lesions.csv:3: image 'f2' has no group" in err


def test_usage_errors(files, capsys):
    rc, _, err = run(capsys, *froc(files, "--fps", "1,two"))
    assert rc == EXIT_USAGE and "--fps" in err
    rc, _, err = run(capsys, *froc(files, "--fps", "-1"))
    assert rc == EXIT_USAGE and ">= 0" in err
    rc, _, err = run(capsys, *froc(files, "--per", "group"))
    assert rc == EXIT_USAGE and "--group-column" in err
    rc, _, err = run(capsys, *froc(files, "--bootstrap", "-5"))
    assert rc == EXIT_INPUT and "n_boot" in err
    with pytest.raises(SystemExit) as exc:
        main(["stats", "froc", "--lesions", str(files["lesions"])])  # no --candidates
    assert exc.value.code == EXIT_USAGE
    rc, _, err = run(capsys, *froc({**files, "cands": files["cands"].with_name("nope.csv")}))
    assert rc == EXIT_INPUT and "nope.csv" in err
