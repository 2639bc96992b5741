"""A plain verdict on a FROC result: what its figures do and do not show.

A FROC sensitivity is easy to over-read: with few lesions each one moves it by a large
step; a CI that resamples frames of the same few videos describes more frames of those
videos, not new videos; a sensitivity read at an FP rate the detector never reaches is
the curve's last value held flat (LUNA16's convention), not a measurement.
:func:`froc_verdict` says each in a sentence, for the command line and the result view.
"""

from __future__ import annotations

import math

__all__ = ["FEW_GROUPS", "FEW_LESIONS", "froc_text", "froc_verdict"]

FEW_LESIONS = 20  # below this each lesion moves the sensitivity by more than 5 points
FEW_GROUPS = 5  # below this many videos (patients) a group-level CI is rough


def _finite(*vs: float) -> bool:
    return all(math.isfinite(v) for v in vs)


def _rate(v: float) -> str:
    return f"{v:g}"


def froc_verdict(result) -> list[str]:
    """Plain sentences on what ``result`` shows, most important first.

    Parameters
    ----------
    result : core.stats.froc.FrocResult
        A FROC analysis (duck-typed: its points, CPM, counts and bootstrap fields).

    Returns
    -------
    list of str
        One sentence each, ending with a full stop:

        * the CPM with its CI and what was resampled (or why there is no CI);
        * no lesion detected at all;
        * too few lesions (< 20): each moves the sensitivity by ``1/n``;
        * the CI's unit: one group only (images resampled, a CI of more frames of that
          video), few groups (< 5: rough), or images treated as independent;
        * requested FP rates beyond the curve's end (sensitivity held, not measured);
        * resamples left out because they drew no lesion;
        * a CPM CI of width 0 (degenerate).
    """
    per = "image" if result.per == "image" else "group"
    out: list[str] = []
    lo, hi = result.cpm_ci
    rates = result.fp_rates
    span = (f"{len(rates)} FP rate{'s' if len(rates) != 1 else ''} from "
            f"{_rate(min(rates))} to {_rate(max(rates))} per {per}") if rates else ""
    if not rates:
        out.append("No FP rates were requested: there is no CPM.")
    elif _finite(lo, hi):
        unit = "groups" if result.resampled == "group" else "images"
        out.append(f"CPM {result.cpm:.3f} (95% CI {lo:.3f}-{hi:.3f}, bootstrap over "
                   f"{result.n_groups if unit == 'groups' else result.n_images} {unit}): "
                   f"the mean sensitivity over {span}.")
    else:
        why = ("the bootstrap was off" if result.n_boot == 0 and result.n_images >= 2
               else "one image cannot be resampled" if result.n_images < 2
               else "no resample drew a lesion")
        out.append(f"CPM {result.cpm:.3f}, the mean sensitivity over {span}: no confidence "
                   f"interval ({why}).")
    if result.n_tp == 0:
        out.append(f"No lesion was hit by any candidate: the sensitivity is 0 at every FP "
                   f"rate ({result.n_lesions} lesions missed).")
    if result.n_lesions < FEW_LESIONS:
        out.append(f"Only {result.n_lesions} lesion{'s' if result.n_lesions != 1 else ''}: "
                   f"each moves the sensitivity by {1 / result.n_lesions:.2f}, so the figures "
                   "are coarse and the CIs wide; more lesions give a firmer estimate.")
    if result.resampled == "image" and result.n_groups == 1 < result.n_images:  # one video
        out.append("All images belong to one group: the CI resamples images, so it "
                   "describes more images of that video, not new videos; it is not reliable "
                   "for new videos. Evaluate on more videos.")
    elif result.resampled == "group" and result.n_groups < FEW_GROUPS:
        out.append(f"Only {result.n_groups} groups (videos or patients): the group-level CI "
                   "is rough; more groups give a firmer one.")
    elif result.resampled == "image":
        out.append("The CI treats images as independent; if several come from one video or "
                   "patient, give each image's group (--group-column) so that whole videos "
                   "are resampled, or the CI will be too narrow.")
    beyond = [r for r in rates if r > result.max_fp_rate]
    if beyond:
        s_end = float(result.curve_sens[-1])
        out.append(f"The detector gives at most {result.max_fp_rate:.3g} FPs per {per}: at "
                   f"{', '.join(_rate(r) for r in beyond)} the sensitivity is its final "
                   f"value {s_end:.3f} held flat (as LUNA16 does), not a measurement.")
    if result.n_boot and result.n_boot_valid < result.n_boot:
        out.append(f"{result.n_boot - result.n_boot_valid} of {result.n_boot} resamples drew "
                   "no lesion and were left out of the CIs.")
    if _finite(lo, hi) and hi - lo <= 1e-12:
        out.append("The CPM's CI has width 0 (degenerate): it comes from a perfect or too "
                   "small test set and does not mean certainty.")
    return out



def froc_text(result) -> str:
    """The plain report of ``layertune stats froc``: counts, a table of the sensitivity
    at each FP rate with its CI and score threshold, the CPM, and the verdict."""
    per = "image" if result.per == "image" else "group"
    r = result
    lines = [f"FROC: {r.n_lesions} lesions in {r.n_images} images"
             + (f" ({r.n_groups} groups)" if r.n_groups != r.n_images else "")
             + f"; {r.n_tp} detected (TP), {r.n_fp} false positives, {r.n_duplicates} "
             f"duplicate and {r.n_ignored} ignored candidates",
             f"  {'FPs/' + per:>10}  {'sensitivity':>11}  {'95% CI':>13}  {'threshold':>10}"]
    for pt in r.points:
        ci = f"{pt.ci[0]:.3f}-{pt.ci[1]:.3f}" if _finite(*pt.ci) else "-"
        lines.append(f"  {pt.fp_rate:>10g}  {pt.sensitivity:>11.3f}  {ci:>13}  "
                     f"{pt.threshold:>10.4g}")
    lo, hi = r.cpm_ci
    ci = f" (95% CI {lo:.3f}-{hi:.3f})" if _finite(lo, hi) else ""
    unit = {"group": f"{r.n_groups} groups", "image": f"{r.n_images} images"}.get(r.resampled)
    lines.append(f"CPM {r.cpm:.3f}{ci}" + (f"; bootstrap: {r.n_boot} resamples of {unit}, "
                                           f"seed {r.seed}" if unit else ""))
    lines += [f"verdict: {s}" for s in froc_verdict(r)]
    return "\n".join(lines)
