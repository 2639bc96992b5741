"""A plain verdict on a ROC result: what its figures do and do not show.

An AUC with a 95 % CI is easy to over-read: a CI that includes 0.5 means the model may be
no better than chance; a CI from one test video describes more frames of that video, not
new videos (frames of one video are alike, so they are not independent cases); a CI of
width 0 (every positive above every negative, or one resampled video) is not certainty.
:func:`verdict` says each in a sentence, for the command line and the result view.
"""

from __future__ import annotations

import math

__all__ = ["verdict"]

FEW_GROUPS = 5  # below this many test videos a video-level CI is rough


def _ci(result) -> tuple[tuple[float, float], str]:
    """The CI to judge by: the video-grouped bootstrap one when there is one, else DeLong's."""
    boot = tuple(getattr(result, "auc_ci_boot", (math.nan, math.nan)))
    if getattr(result, "n_groups", 0) >= 2 and all(math.isfinite(v) for v in boot):
        return (float(boot[0]), float(boot[1])), "video-level bootstrap"
    return (float(result.auc_ci[0]), float(result.auc_ci[1])), "DeLong"


def verdict(result, n_test_groups: int) -> list[str]:
    """Plain sentences on what ``result`` shows, most important first.

    Parameters
    ----------
    result : core.stats.RocResult
        A ROC analysis (its ``auc``, ``auc_ci`` and, when present, the video-grouped
        ``auc_ci_boot`` and ``n_groups``).
    n_test_groups : int
        Number of test videos (subjects) the result comes from; 0 when unknown (a scores
        file), which leaves out the sentences about videos.

    Returns
    -------
    list of str
        One sentence each, ending with a full stop:

        * the overall call: better than chance, *no better than chance* (the CI includes
          0.5) or *worse than chance* (the CI lies below 0.5), with the CI and its kind
          (the video-level bootstrap CI when the result has one, else DeLong's);
        * with one test video: *a CI from one video is not reliable*;
        * with 2 to 4 test videos: the video-level CI is rough;
        * a CI of width 0 (degenerate): it does not mean certainty.
    """
    (lo, hi), kind = _ci(result)
    out = []
    span = f"{lo:.3f}-{hi:.3f}, {kind}"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        out.append(f"AUC {result.auc:.3f}: no confidence interval could be computed.")
    elif lo <= 0.5 <= hi:
        out.append(f"No better than chance: the AUC's 95% CI ({span}) includes 0.5.")
    elif hi < 0.5:
        out.append(f"Worse than chance: the AUC's 95% CI ({span}) lies below 0.5; are the "
                   "labels or the classes swapped?")
    else:
        out.append(f"Better than chance: the AUC's 95% CI ({span}) lies above 0.5.")
    if n_test_groups == 1:
        out.append("A CI from one video is not reliable: frames of one video are alike, so "
                   "the interval describes more frames of this video, not new videos; "
                   "set aside more test videos.")
    elif 2 <= n_test_groups < FEW_GROUPS:
        out.append(f"Only {n_test_groups} test videos: the video-level CI is rough; more test "
                   "videos give a firmer one.")
    widths = [float(result.auc_ci[1]) - float(result.auc_ci[0])]
    if kind != "DeLong":
        widths.append(hi - lo)
    if any(math.isfinite(w) and w <= 1e-12 for w in widths):
        out.append("The CI has width 0 (degenerate): it comes from a perfect or too small "
                   "test set and does not mean certainty.")
    return out
