"""``layertune studies --hu`` and the candidate job on CT series a user may well have:
one without contrast, one with a truncated slice (listed with the reason; nothing stops)."""

from __future__ import annotations

import json

from test_dicom_cases import write_series
from test_dicom_contrast import SPACING, chest

from core.cli import main
from core.events import Notice
from core.jobs.volume_candidates import generate_volume_candidates
from core.store import Project


def test_non_contrast_and_truncated_series_are_listed_with_reasons(tmp_path, capsys):
    zs = [SPACING[0] * k for k in range(24)]
    write_series(tmp_path / "in" / "plain", chest(45.0, n=24), z=zs, series_uid="1.2.3.1",
                 pixel_spacing=SPACING[1:])
    paths = write_series(tmp_path / "in" / "cut", chest(350.0, n=24), z=zs,
                         series_uid="1.2.3.2", pixel_spacing=SPACING[1:])
    folder = str(tmp_path / "p")
    assert main(["import", "--project", folder, "--task", "emboli", "-q",
                 str(tmp_path / "in")]) == 0
    data = paths[10].read_bytes()
    paths[10].write_bytes(data[: len(data) // 2])  # truncated after the import
    capsys.readouterr()
    assert main(["studies", "--project", folder, "--hu", "--json", "-q"]) == 0
    rows = {r["series_uid"]: r for r in json.loads(capsys.readouterr().out)["studies"]}
    plain, cut = rows["1.2.3.1"], rows["1.2.3.2"]
    assert plain["contrast"] is False and "no contrast bolus" in plain["problems"][0]
    assert plain["hu_range"][1] > 500  # loaded and measured
    assert cut["hu_range"] is None and "truncated" in cut["problems"][0]
    with Project.open(folder) as project:
        ids = [s.id for s in project.studies()]
        events = []
        gen = generate_volume_candidates(project, ids)
        try:
            while True:
                events.append(next(gen))
        except StopIteration as stop:
            report = stop.value
        texts = [e.message for e in events if isinstance(e, Notice)]
        assert any("no contrast bolus" in t for t in texts)
        assert any("truncated" in t for t in texts)
        assert len(report.studies) == 1  # the readable one still gets its candidates
