"""Tobogganing as a background job of the Emboli workspace.

:func:`core.jobs.volume_candidates.generate_volume_candidates` runs through the shared
:class:`app.workspaces.candidate_jobs.CandidateJobMixin`. The candidates replace the
study's earlier ones; decisions, stored at the candidates' centres, stay.
"""

from __future__ import annotations

from ..candidate_jobs import CandidateJobMixin


class VolumeCandidateJobMixin(CandidateJobMixin):
    """Tobogganing off the GUI thread (mixed into EmboliWorkspace)."""

    job_stages = {"load": "reading", "candidates": "volumes", "toboggan": "tobogganing",
                  "axes": "vessel axes"}
    job_first = "import a CT series first (File > Import DICOM folder)"
    job_unit = "volumes"

    def candidate_job(self, project, ids):
        from core.jobs.volume_candidates import generate_volume_candidates

        return lambda: generate_volume_candidates(project, ids)

    def after_candidates(self) -> None:
        self.reload_studies()
        if self.study is not None and self.volume is not None:
            keep = self.viewer.selected
            self._load_candidates()
            self._refresh_markers()
            if keep is None or keep not in self._pos:
                self.planes.clear()

    def shutdown_jobs(self, timeout_ms: int = 5000) -> bool:
        ok = super().shutdown_jobs(timeout_ms)
        return self.loader.shutdown(timeout_ms) and ok
