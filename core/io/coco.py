"""COCO JSON: polyp masks and candidate boxes in the format detection tools exchange.

Export (:func:`export_coco`) writes one COCO ``image`` per frame that has a mask or a
candidate, ``file_name`` = ``<study name>/<frame file name>`` (image sets and frame
folders: the still's own name; videos: ``<frame:06d>.png``), and per 8-connected
component of each mask one annotation of category ``"polyp"`` (id 1): COCO RLE
segmentation (compressed, bit-exact to pycocotools), ``bbox`` [x, y, w, h] (tight, in
pixels), ``area`` (its pixels), ``iscrowd`` 0. Candidates are category ``"candidate"``
(id 2) with their box and ``"score"`` (when scored). Images carry ``study``, ``frame``
and ``has_mask`` (False for a frame holding candidates only, so it is not read back as
"no polyp"). De-identified by default: study names only, no paths, no subject keys
(``deidentify=False`` adds ``path`` and ``subject`` to each image).

Import (:func:`import_coco`) unites each image's polyp annotations (RLE, compressed or
not, and polygons) into the frame's mask and stores it as the frame's expert mask (as
:func:`core.io.masks.import_mask_folder` does). An image listed with no polyp
annotation is a frame with no polyp (an empty mask) unless it says ``has_mask: false``.
Images are matched to frames by ``file_name`` (see :func:`import_coco`); empty masks
are counted (``report.empty``), not listed per image (negatives are normal in COCO).
Per entry it reports images matching no frame, of another size, or listed twice,
annotations of image ids the file does not list, malformed annotations and annotations
without a segmentation; an image with a bad annotation is left out whole (half its
polyps would be false truth); the rest is imported. A file that is not COCO JSON at all raises
:class:`CocoError` and imports nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np

from core.events import Notice, Progress
from core.io.base import quote
from core.io.coco_rle import CocoSegmentationError, components, decode_segmentation, rle_encode
from core.io.masks import folder_name
from core.io.masks_store import MaskImportReport, StudyFrames, Tally, summary_notices, write_mask
from core.io.video import VideoError
from core.store import Project, Study

if TYPE_CHECKING:  # pragma: no cover
    from core.store.history import AnnotationHistory

__all__ = ["CocoError", "CocoExportReport", "POLYP", "CANDIDATE", "export_coco", "import_coco"]

POLYP, CANDIDATE = "polyp", "candidate"
_CATEGORIES = [{"id": 1, "name": POLYP, "supercategory": "lesion"},
               {"id": 2, "name": CANDIDATE, "supercategory": "lesion"}]
_PROGRESS_EVERY = 16


class CocoError(ValueError):
    """A file that is not COCO JSON (unreadable, not JSON, no ``images`` list)."""


@dataclass(frozen=True)
class CocoExportReport:
    """What :func:`export_coco` wrote."""

    path: str
    n_studies: int
    n_images: int
    n_polyps: int
    n_candidates: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "n_studies": self.n_studies, "n_images": self.n_images,
                "n_polyps": self.n_polyps, "n_candidates": self.n_candidates}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# ---------------------------------------------------------------------------- export

def export_coco(project: Project, study_ids: Iterable[int], path: str | os.PathLike[str], *,
                include_candidates: bool = True, deidentify: bool = True,
                source: str = "expert", generator: str | None = None
                ) -> Generator[Progress, None, CocoExportReport]:
    """Write the studies' masks (and candidates) as one COCO JSON file.

    Parameters
    ----------
    project : Project
    study_ids : iterable of int
    path : str or PathLike
        The JSON file, written whole or not at all (temporary file + rename).
    include_candidates : bool
        Add the stored candidates (2-D, on a frame) as category ``"candidate"``.
    deidentify : bool
        True (default): study names only. False: each image also names its study's
        path and subject key.
    source : str
        Whose masks: ``"expert"`` (default) or ``"imported"``.
    generator : str, optional
        Only this candidate generator's candidates (default: all).

    Yields
    ------
    Progress
        Stage ``"export"``: studies done out of all.

    Raises
    ------
    StudyMissingError
        An image set's frame holding candidates but no mask needs its size read from
        the still, and the study has moved.
    """
    out = Path(path)
    studies = [project.study(int(s)) for s in study_ids]
    images: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    n_polyps = n_cands = 0
    used: set[str] = set()
    for k, st in enumerate(studies):
        yield Progress("export", k, len(studies), f"exporting {st.name}")
        folder = folder_name(st.name)
        if folder.casefold() in used:
            folder = f"{folder}-{st.id}"
        used.add(folder.casefold())
        masks = {int(a.frame): a.geometry.array
                 for a in project.annotations(st.id, kind="mask", source=source)}
        cands: dict[int, list] = {}
        if include_candidates:
            for c in project.candidates(st.id, generator=generator):
                if c.frame is not None and len(c.extent) == 4:
                    cands.setdefault(int(c.frame), []).append(c)
        with StudyFrames(project, st) as frames:
            for f in sorted(set(masks) | set(cands)):
                h, w = masks[f].shape if f in masks else frames.size(f)
                img: dict[str, Any] = {
                    "id": len(images) + 1, "file_name": f"{folder}/{frames.image_name(f)}",
                    "width": int(w), "height": int(h), "study": st.name, "frame": f,
                    "has_mask": f in masks}
                if not deidentify:
                    img.update(path=st.path, subject=st.subject)
                images.append(img)
                for comp, bbox, area in components(masks[f]) if f in masks else ():
                    anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": 1,
                                 "segmentation": rle_encode(comp), "area": area,
                                 "bbox": bbox, "iscrowd": 0})
                    n_polyps += 1
                for c in cands.get(f, ()):
                    r0, c0, r1, c1 = (float(v) for v in c.extent)
                    ann = {"id": len(anns) + 1, "image_id": img["id"], "category_id": 2,
                           "bbox": [c0, r0, c1 - c0, r1 - r0], "area": (c1 - c0) * (r1 - r0),
                           "iscrowd": 0, "generator": c.generator,
                           "generator_version": c.version}
                    if c.score is not None:
                        ann["score"] = float(c.score)
                    anns.append(ann)
                    n_cands += 1
    doc = {"info": {"description": "LayerTune polyp masks and candidates",
                    "date_created": date.today().isoformat()},
           "licenses": [], "categories": _CATEGORIES if include_candidates else _CATEGORIES[:1],
           "images": images, "annotations": anns}
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, out)
    yield Progress("export", len(studies), len(studies), f"wrote {out.name}")
    return CocoExportReport(str(out), len(studies), len(images), n_polyps, n_cands)


# ---------------------------------------------------------------------------- import

def _load(path: Path) -> dict[str, Any]:
    """The COCO document, or CocoError saying why it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CocoError(f"The COCO file {quote(path)} cannot be read ({exc.strerror}). "
                        f"File: {path}") from exc
    except UnicodeDecodeError as exc:
        raise CocoError(f"The COCO file {quote(path)} is not UTF-8 text. File: {path}") from exc
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CocoError(f"The COCO file {quote(path)} is not valid JSON: {exc.msg} at line "
                        f"{exc.lineno}, column {exc.colno}. File: {path}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
        raise CocoError(f"The COCO file {quote(path)} has no \"images\" list, so it is not "
                        f"a COCO dataset. File: {path}")
    for key in ("annotations", "categories"):
        if not isinstance(doc.get(key, []), list):
            raise CocoError(f"The COCO file {quote(path)} has a \"{key}\" that is not a list. "
                            f"File: {path}")
    return doc


def _polyp_ids(cats: list, wanted: Iterable[str] | None) -> set | None:
    """Category ids whose annotations are polyps; None: every annotation is."""
    named = {c["id"]: str(c.get("name", "")) for c in cats
             if isinstance(c, dict) and _is_int(c.get("id"))}
    if not named:
        return None
    if wanted is not None:
        keep = {w.casefold() for w in wanted}
        return {i for i, n in named.items() if n.casefold() in keep}
    polyps = {i for i, n in named.items() if n.casefold() == POLYP}
    return polyps or {i for i, n in named.items() if n.casefold() != CANDIDATE}


class _Resolver:
    """COCO ``file_name`` -> (study, frame), see :func:`import_coco`."""

    def __init__(self, project: Project, study_ids: Iterable[int] | None,
                 study_map: Mapping[str, int] | None) -> None:
        self.project = project
        self.scope = ([project.study(int(i)) for i in study_ids] if study_ids is not None
                      else project.studies())
        self.names: dict[str, Study] = {}
        for st in self.scope:
            self.names.setdefault(folder_name(st.name), st)
        for st in self.scope:
            self.names[st.name] = st
        self.map = {k: project.study(int(v)) for k, v in (study_map or {}).items()}
        self.frames: dict[int, StudyFrames] = {}

    def frames_of(self, st: Study) -> StudyFrames:
        if st.id not in self.frames:
            self.frames[st.id] = StudyFrames(self.project, st)
        return self.frames[st.id]

    def resolve(self, file_name: str) -> tuple[Study | None, int | None, str]:
        """(study, frame, "") or (study or None, None, why not)."""
        parts = PurePosixPath(file_name.replace("\\", "/")).parts
        base, folder = parts[-1], (parts[-2] if len(parts) > 1 else "")
        st = self.map.get(folder) or self.names.get(folder)
        if st is None and len(self.scope) == 1:
            st = self.scope[0]
        if st is None:
            hits = [s for s in self.scope if self.frames_of(s).has_stem(base)]
            if len(hits) > 1:
                return None, None, "ambiguous"
            if not hits:
                return None, None, "name"
            st = hits[0]
        frame = self.frames_of(st).frame_of(base)
        return st, frame, "" if frame is not None else "name"

    def close(self) -> None:
        for f in self.frames.values():
            f.close()


def import_coco(project: Project, path: str | os.PathLike[str], *,
                study_ids: Iterable[int] | None = None,
                study_map: Mapping[str, int] | None = None,
                categories: Iterable[str] | None = None, user: str | None = None,
                history: AnnotationHistory | None = None
                ) -> Generator[Progress | Notice, None, MaskImportReport]:
    """Import the polyp masks of a COCO JSON file onto the project's studies.

    Parameters
    ----------
    project : Project
    path : str or PathLike
    study_ids : iterable of int, optional
        The studies the images may belong to (default: all of the project's).
    study_map : mapping of str to int, optional
        A ``file_name``'s folder part -> study id (``""`` for bare names). Without it,
        the folder part names the study (its name, as :func:`export_coco` writes it);
        bare names belong to the only study in scope, else to the one study whose frame
        files have that stem (image sets, frame folders).
    categories : iterable of str, optional
        Category names that are polyps. Default: ``"polyp"`` (any case) if the file has
        it, else every category but ``"candidate"``.
    user, history
        As for :func:`core.io.masks.import_mask_folder`.

    Yields
    ------
    Progress
        Stage ``"coco"``: images done out of all.
    Notice
        A summary of the entries left out, and of empty masks.

    Returns
    -------
    MaskImportReport
        ``n_entries`` counts the file's images; problems name ``image <id> (<file>)`` or
        ``annotation <id>`` (``#<position>`` when the entry has no id).

    Raises
    ------
    CocoError
        The file cannot be read, is not JSON, has no ``images`` list, or has no polyp
        category (nothing imported).
    StudyMissingError
        An image set whose frame sizes are needed has moved.
    """
    p = Path(path)
    doc = _load(p)
    polyp_ids = _polyp_ids(doc.get("categories", []), categories)
    if polyp_ids == set():
        names = sorted({str(c.get("name")) for c in doc["categories"] if isinstance(c, dict)})
        raise CocoError(f"The COCO file {quote(p)} has no polyp category (it has "
                        f"{', '.join(names) or 'none'}); say which categories are polyps. "
                        f"File: {p}")
    entries = doc["images"]
    tally = Tally(p.name, n_entries=len(entries))
    resolver = _Resolver(project, study_ids, study_map)
    try:
        accepted, listed = yield from _images(entries, resolver, tally)
        yield from _annotations(doc.get("annotations", []), accepted, listed, polyp_ids, tally)
        done = 0
        with history.step() if history is not None else nullcontext():
            for a in accepted.values():
                if a["refused"] or (not a["masks"] and a["has_mask"] is False):
                    continue
                mask = np.zeros(a["size"], bool)
                for m in a["masks"]:
                    mask |= m
                write_mask(project, a["study"].id, a["frame"], mask, tally, user=user,
                           history=history)
                done += 1
                if done % _PROGRESS_EVERY == 0:
                    yield Progress("coco", done, len(accepted), f"storing masks of {p.name}")
    finally:
        resolver.close()
    yield Progress("coco", len(accepted), len(accepted), f"imported {p.name}")
    report = tally.report()
    yield from summary_notices(report, f"entries of {quote(p)}")
    return report


def _images(entries: list, resolver: _Resolver, tally: Tally
            ) -> Generator[Progress, None, tuple[dict[int, dict[str, Any]], set[int]]]:
    """Check each image entry and match it to a frame: (the accepted ones by id, every
    id listed)."""
    accepted: dict[int, dict[str, Any]] = {}
    seen: set[int] = set()
    claimed: dict[tuple[int, int], str] = {}
    for k, e in enumerate(entries):
        if k % _PROGRESS_EVERY == 0:
            yield Progress("coco", k, len(entries), "matching images to frames")
        img_id = e.get("id") if isinstance(e, dict) else None
        fname = e.get("file_name") if isinstance(e, dict) else None
        label = f"image {img_id} ({fname})" if _is_int(img_id) else f"image #{k}"
        if not _is_int(img_id) or not isinstance(fname, str) or not fname:
            tally.problem(label, "malformed", f"{label} has no integer \"id\" or no "
                          "\"file_name\"; it was left out.")
            continue
        if img_id in seen:
            tally.problem(label, "malformed", f"{label}: a second image with id {img_id}; "
                          "neither is imported (their annotations cannot be told apart).")
            accepted.pop(img_id, None)
            continue
        seen.add(img_id)
        st, frame, why = resolver.resolve(fname)
        if st is None or frame is None:
            msg = ("fits frames of several studies; name the study (study_map)"
                   if why == "ambiguous" else "matches no frame of the studies in scope (a folder part or study_map names "
                   "the study)")
            tally.problem(label, why, f"{label} {msg}; it was left out.")
            continue
        if (st.id, frame) in claimed:
            tally.problem(label, "duplicate", f"{label} is a second image for frame {frame} "
                          f"of \u201c{st.name}\u201d (after {claimed[st.id, frame]}); "
                          "it was left out.")
            continue
        try:
            size = resolver.frames_of(st).size(frame)
        except VideoError as exc:
            tally.problem(label, "frame", f"The frame of {label} cannot be read: {exc}")
            continue
        h, w = e.get("height", size[0]), e.get("width", size[1])
        if (h, w) != size:
            tally.problem(label, "size", f"{label} is {w}x{h} but frame {frame} of "
                          f"\u201c{st.name}\u201d is {size[1]}x{size[0]}; it was left out.")
            continue
        claimed[st.id, frame] = label
        accepted[img_id] = {"label": label, "study": st, "frame": frame, "size": size,
                            "masks": [], "refused": False, "has_mask": e.get("has_mask")}
    return accepted, seen


def _annotations(anns: list, accepted: dict[int, dict[str, Any]], listed: set[int],
                 polyp_ids: set | None, tally: Tally) -> Generator[Progress, None, None]:
    """Decode each polyp annotation onto its accepted image, or refuse the image
    (annotations of listed images that were left out are skipped quietly)."""
    for k, a in enumerate(anns):
        if k % (4 * _PROGRESS_EVERY) == 0:
            yield Progress("coco", k, len(anns), "reading annotations")
        ann_id = a.get("id") if isinstance(a, dict) else None
        label = f"annotation {ann_id}" if _is_int(ann_id) else f"annotation #{k}"
        img_id = a.get("image_id") if isinstance(a, dict) else None
        if not _is_int(img_id):
            tally.problem(label, "malformed", f"{label} has no integer \"image_id\"; it was "
                          "left out.")
            continue
        if polyp_ids is not None and a.get("category_id") not in polyp_ids:
            continue  # a candidate box, or another category
        img = accepted.get(img_id)
        if img is None:
            if img_id not in listed:
                tally.problem(label, "unknown_image", f"{label} belongs to image id {img_id}, "
                              "which the file does not list; it was left out.")
            continue
        if img["refused"]:
            continue
        seg = a.get("segmentation")
        try:
            if seg is None or seg == [] or seg == {}:
                raise LookupError
            img["masks"].append(decode_segmentation(seg, *img["size"]))
        except LookupError:
            tally.problem(label, "no_segmentation", f"{label} (on {img['label']}) has no "
                          f"segmentation; {img['label']} was left out.")
            img["refused"] = True
        except CocoSegmentationError as exc:
            tally.problem(label, "malformed", f"{label} (on {img['label']}): {exc}; "
                          f"{img['label']} was left out.")
            img["refused"] = True
