"""``layertune calibrate``, ``layertune tracings`` and the spacing in ``studies --json``."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from test_ultrasound_cases import region, write_us

import core.io.ultrasound  # noqa: F401  (registers the ultrasound readers)
from core import cli
from core.cli_cimt import add_parsers
from core.events import drain
from core.io.importer import import_path
from core.store import Polyline, Project


def run(argv, capsys) -> tuple[int, str, str]:
    """Run a calibrate/tracings command line as core.cli.main does (same errors)."""
    p = argparse.ArgumentParser(prog="layertune")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp, json_flag=True):
        if json_flag:
            sp.add_argument("--json", action="store_true")
        sp.add_argument("-q", "--quiet", action="store_true")

    add_parsers(sub, common)
    args = p.parse_args(argv)
    try:
        rc = args.func(args)
    except (ValueError, OSError) as exc:
        cli._error(exc)
        rc = cli.EXIT_INPUT
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def project(tmp_path):
    with_regions = write_us(tmp_path / "dicom.dcm", np.zeros((60, 80), np.uint8),
                            regions=[region(0, 0, 79, 59, 0.0075)])
    bare = write_us(tmp_path / "bare.dcm", np.full((60, 80), 9, np.uint8))
    folder = tmp_path / "proj"
    with Project.create(folder) as p:
        for f in (with_regions, bare):
            drain(import_path(p, f, task="cimt"))
    return folder


def test_calibrate_sets_clears_and_refuses(project, capsys):
    rc, out, _ = run(["calibrate", "--project", str(project), "--study", "bare",
                      "--mm-per-pixel", "0.08", "--json"], capsys)
    assert rc == 0
    doc = json.loads(out)
    assert doc["pixel_spacing_mm"] == [0.08, 0.08] and doc["spacing_source"] == "calibration"
    rc, out, _ = run(["calibrate", "--project", str(project), "--study", "bare",
                      "--distance-mm", "10", "--point", "0,0", "--point", "30,40"], capsys)
    assert rc == 0 and "0.2 mm/px (calibration)" in out
    rc, out, _ = run(["calibrate", "--project", str(project), "--study", "bare", "--clear"],
                     capsys)
    assert rc == 0 and "no spacing" in out
    rc, _, err = run(["calibrate", "--project", str(project), "--study", "bare",
                      "--mm-per-pixel", "-1"], capsys)
    assert rc == cli.EXIT_INPUT and "more than 0" in err
    rc, _, err = run(["calibrate", "--project", str(project), "--study", "bare",
                      "--distance-mm", "0", "--point", "0,0", "--point", "3,4"], capsys)
    assert rc == cli.EXIT_INPUT and "more than 0 mm" in err
    rc, _, err = run(["calibrate", "--project", str(project), "--study", "bare"], capsys)
    assert rc == cli.EXIT_INPUT and "exactly one" in err


def test_studies_json_shows_spacing_and_source(project, capsys):
    rc = cli.main(["studies", "--project", str(project), "--json"])
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["studies"]}
    assert rc == 0
    assert rows["dicom"]["pixel_spacing_mm"] == pytest.approx([0.075, 0.075])
    assert rows["dicom"]["spacing_source"] == "dicom regions"
    assert rows["bare"]["pixel_spacing_mm"] is None and rows["bare"]["spacing_source"] is None
    rc = cli.main(["studies", "--project", str(project)])
    text = capsys.readouterr().out
    assert "0.075 mm/px (dicom regions)" in text and "IMT in pixels" in text


def test_tracings_export_then_import(project, tmp_path, capsys):
    li = np.column_stack([np.full(5, 20.0), np.linspace(5, 70, 5)])
    with Project.open(project) as p:
        s = p.find_study("dicom")
        p.add_annotation(s.id, "polyline", Polyline(li), frame=0, value="LI")
        p.add_annotation(s.id, "polyline", Polyline(li + [6.5, 0]), frame=0, value="MA")
    for fmt, target in (("json", tmp_path / "t.json"), ("cubs", tmp_path / "cubs")):
        rc, out, _ = run(["tracings", "export", "--project", str(project), "--format", fmt,
                          str(target), "--json"], capsys)
        assert rc == 0 and json.loads(out)["n_frames"] == 1
    assert (tmp_path / "cubs" / "dicom-LI.txt").exists()
    assert (tmp_path / "cubs" / "CF" / "dicom_CF.txt").read_text().strip() == "0.075"
    rc, out, _ = run(["tracings", "import", "--project", str(project),
                      str(tmp_path / "t.json")], capsys)
    assert rc == 0 and "0 added, 0 replaced, 2 unchanged" in out
    (tmp_path / "cubs" / "dicom-MA.txt").write_text("5 10\n70 10\n")  # above LI: crossing
    rc, out, _ = run(["tracings", "import", "--project", str(project),
                      str(tmp_path / "cubs")], capsys)
    assert rc == cli.EXIT_INPUT and "cross" in out and "dicom-MA.txt line 1" in out
    rc, _, err = run(["tracings", "import", "--project", str(project),
                      str(tmp_path / "nowhere")], capsys)
    assert rc == cli.EXIT_INPUT and "not a folder" in err
