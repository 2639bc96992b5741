"""The Frame-quality workspace (informative / non-informative colonoscopy frames).

:mod:`.workspace` builds the tab and registers it; :mod:`.labelling` holds fast
labelling (ranges, next unlabelled frame, sampled labelling, progress) and
:mod:`.model_view` the model's opinion and the protection of the test set.
"""

from __future__ import annotations

from .workspace import SHORTCUTS, FrameQualityWorkspace

__all__ = ["SHORTCUTS", "FrameQualityWorkspace"]
