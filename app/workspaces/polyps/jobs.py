"""The candidate generator as a background job of the Polyps workspace.

:func:`core.jobs.candidates.generate_candidates` runs through the shared
:class:`app.workspaces.candidate_jobs.CandidateJobMixin`.
"""

from __future__ import annotations

from ..candidate_jobs import CandidateJobMixin


class FrameCandidateJobMixin(CandidateJobMixin):
    """The polyp candidate generator off the GUI thread (mixed into PolypsWorkspace)."""

    job_first = "import a polyp video or image set first"
    job_unit = "videos"

    def candidate_job(self, project, ids):
        from core.jobs.candidates import generate_candidates

        return lambda: generate_candidates(project, ids)

    def after_candidates(self) -> None:
        if self.study is not None:
            self._load_study_data()
            self.show_frame(self.frame)
        self._update_progress()
