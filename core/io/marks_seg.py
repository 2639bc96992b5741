"""Voxel masks as DICOM Segmentation objects (SEG), aligned to a CT series.

Reading is plain pydicom: each frame of the SEG is placed on the plane of the series
where its ImagePositionPatient falls (:class:`core.io.geometry3d.VolumeGeometry`), and,
when the series' SOP Instance UIDs are known, checked against the slice the frame says
it was derived from. BINARY, FRACTIONAL (thresholded at half the maximum value) and
LABELMAP segmentations are read; a SEG whose planes are oriented or sampled differently
from the series is refused (resampling a mask is not done silently).

Writing needs ``highdicom`` (the optional ``dicom`` extra); it makes a BINARY SEG that
references the series' files, as 3D Slicer and dcmqi read them.

In a project, a study's voxel mask is stored per plane as ``mask`` annotations (frame =
plane index, :class:`core.store.Mask` of the plane's (rows, cols)); :func:`import_seg`
and :func:`study_mask_volume` convert between the two.
"""

from __future__ import annotations

import copy
import os
import warnings
from collections.abc import Generator, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.events import Notice, Progress
from core.io.base import quote
from core.io.geometry3d import VolumeGeometry
from core.store import Mask, Project, Study

__all__ = ["SEG_SOP_CLASS", "SegError", "SegImportReport", "SegVolume", "Segment",
           "import_seg", "read_seg", "study_mask_volume", "write_seg"]

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.7"
_POS_TOL = 0.1  # voxels: a frame must sit this close to a voxel grid position
_COS_TOL = 1e-3  # 1 - dot product allowed between the SEG's and the series' cosines
_INSTALL = "pip install 'layertune[dicom]' (or pip install highdicom)"


class SegError(ValueError):
    """A file that is not a SEG of this series, or cannot be aligned to it."""


@dataclass(frozen=True)
class Segment:
    """One segment: its number in the file, label and coded meanings."""

    number: int
    label: str
    category: str = ""
    property_type: str = ""
    algorithm_type: str = ""


@dataclass(frozen=True, eq=False)
class SegVolume:
    """The segments of a SEG on the voxel grid of a series.

    ``masks`` maps each segment number to a ``(Z, Y, X)`` bool array of the series'
    shape; ``planes`` are the planes the SEG's frames covered (in any segment).
    """

    masks: dict[int, np.ndarray]
    segments: tuple[Segment, ...]
    referenced_series_uid: str | None
    planes: tuple[int, ...]
    notes: tuple[str, ...] = ()

    def union(self, numbers: Iterable[int] | None = None) -> np.ndarray:
        """The union of the segments ``numbers`` (default all)."""
        keys = list(self.masks) if numbers is None else [int(n) for n in numbers]
        out = np.zeros(next(iter(self.masks.values())).shape, bool) if self.masks else None
        for k in keys:
            if k not in self.masks:
                raise ValueError(f"the SEG has no segment {k} (it has {sorted(self.masks)})")
            out |= self.masks[k]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"referenced_series_uid": self.referenced_series_uid,
                "planes": list(self.planes), "notes": list(self.notes),
                "segments": [{"number": s.number, "label": s.label, "category": s.category,
                              "property_type": s.property_type,
                              "voxels": int(self.masks[s.number].sum())}
                             for s in self.segments]}


def _seq(ds: Any, name: str) -> Any:
    """The first item of the sequence ``name`` of ``ds``, or None."""
    seq = getattr(ds, name, None) if ds is not None else None
    return seq[0] if seq else None


def _frame_attr(shared: Any, frame: Any, seq: str, attr: str) -> Any:
    """``attr`` of the functional group ``seq``, per frame first, then shared."""
    for group in (frame, shared):
        item = _seq(group, seq)
        if item is not None and attr in item:
            return item[attr].value
    return None


def _code_meaning(item: Any, seq: str) -> str:
    code = _seq(item, seq)
    return str(getattr(code, "CodeMeaning", "")) if code is not None else ""


def read_seg(path: str | os.PathLike[str], geometry: VolumeGeometry, *,
             sop_uids: Sequence[str] | None = None,
             series_uid: str | None = None) -> SegVolume:
    """Read a DICOM SEG onto the voxel grid of a series.

    Parameters
    ----------
    path : str or PathLike
    geometry : VolumeGeometry
        The series' geometry (e.g. ``VolumeGeometry.from_meta(study.meta)``).
    sop_uids : sequence of str, optional
        The series' SOP Instance UIDs in plane order: frames that name their source
        slice are checked against the plane their position gives (or placed by it when
        a frame has no position).
    series_uid : str, optional
        The series' UID: a SEG that references other series only is refused.

    Raises
    ------
    SegError
        Not a readable SEG; of another series; oriented or sampled differently; a frame
        off the voxel grid or on a different slice than the one it names.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    p = Path(path)
    try:
        ds = pydicom.dcmread(p)
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise SegError(f"{quote(p)} cannot be read as DICOM ({exc}). File: {p}") from exc
    sop_class = str(getattr(ds, "SOPClassUID", ""))
    if sop_class not in (SEG_SOP_CLASS, LABELMAP_SOP_CLASS) and ds.get("Modality") != "SEG":
        raise SegError(f"{quote(p)} is not a DICOM Segmentation (SOP class "
                       f"{sop_class or 'none'}, modality {ds.get('Modality', 'none')}). File: {p}")
    ref_series = [str(getattr(s, "SeriesInstanceUID", ""))
                  for s in getattr(ds, "ReferencedSeriesSequence", [])]
    if series_uid and ref_series and series_uid not in ref_series:
        raise SegError(f"{quote(p)} segments the series {', '.join(ref_series)}, not "
                       f"{series_uid}. File: {p}")
    seg_type = str(ds.get("SegmentationType", "BINARY")).upper()
    segments = tuple(Segment(int(s.SegmentNumber), str(getattr(s, "SegmentLabel", "")),
                             _code_meaning(s, "SegmentedPropertyCategoryCodeSequence"),
                             _code_meaning(s, "SegmentedPropertyTypeCodeSequence"),
                             str(getattr(s, "SegmentAlgorithmType", "")))
                     for s in getattr(ds, "SegmentSequence", []))
    if not segments:
        raise SegError(f"{quote(p)} lists no segments. File: {p}")
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:  # pydicom raises many types for undecodable pixel data
        raise SegError(f"the pixel data of {quote(p)} cannot be decoded ({exc}). File: {p}"
                       ) from exc
    n_frames = int(ds.get("NumberOfFrames", 1))
    pixels = pixels.reshape(n_frames, int(ds.Rows), int(ds.Columns))
    if seg_type == "FRACTIONAL":
        pixels = pixels >= float(ds.get("MaximumFractionalValue", 255)) / 2
    shared = _seq(ds, "SharedFunctionalGroupsSequence")
    per_frame = list(getattr(ds, "PerFrameFunctionalGroupsSequence", [])) or [None] * n_frames
    plane_of_uid = {u: i for i, u in enumerate(sop_uids or ())}
    masks = {s.number: np.zeros(geometry.shape, bool) for s in segments}
    planes: set[int] = set()
    notes: list[str] = []
    for i, frame in enumerate(per_frame[:n_frames]):
        where = f"{quote(p)}, frame {i + 1}"
        iop = _frame_attr(shared, frame, "PlaneOrientationSequence", "ImageOrientationPatient")
        if iop is not None:
            iop = np.asarray(iop, float)
            if (1 - abs(float(iop[:3] @ geometry.row_cosine)) > _COS_TOL
                    or 1 - abs(float(iop[3:] @ geometry.col_cosine)) > _COS_TOL
                    or iop[:3] @ geometry.row_cosine < 0 or iop[3:] @ geometry.col_cosine < 0):
                raise SegError(f"{where} is oriented {list(np.round(iop, 4))}, the series "
                               f"{list(np.round(geometry.orientation, 4))}: resampling a "
                               "mask to another orientation is not supported.")
        ps = _frame_attr(shared, frame, "PixelMeasuresSequence", "PixelSpacing")
        if ps is not None and not np.allclose(np.asarray(ps, float), geometry.spacing_mm[1:],
                                              rtol=1e-3):
            raise SegError(f"{where} has pixels of {[float(v) for v in ps]} mm, the series "
                           f"{list(geometry.spacing_mm[1:])} mm: resampling is not supported.")
        ipp = _frame_attr(shared, frame, "PlanePositionSequence", "ImagePositionPatient")
        src = _seq(_seq(frame, "DerivationImageSequence"), "SourceImageSequence")
        src_uid = str(getattr(src, "ReferencedSOPInstanceUID", "")) if src else ""
        if ipp is not None:
            v = geometry.world_to_voxel(np.asarray(ipp, float))
            if np.max(np.abs(v - np.round(v))) > _POS_TOL:
                raise SegError(f"{where} lies at voxel {list(np.round(v, 2))}, between the "
                               "series' voxels: resampling is not supported.")
            plane, r0, c0 = (int(x) for x in np.round(v))
            if src_uid in plane_of_uid and plane_of_uid[src_uid] != plane:
                raise SegError(f"{where} names slice {plane_of_uid[src_uid]} of the series "
                               f"as its source but lies on plane {plane}.")
        elif src_uid in plane_of_uid:
            plane, r0, c0 = plane_of_uid[src_uid], 0, 0
        else:
            raise SegError(f"{where} has neither a position nor a known source slice.")
        if not 0 <= plane < geometry.shape[0]:
            notes.append(f"frame {i + 1} lies outside the series (plane {plane}); left out")
            continue
        planes.add(plane)
        img = pixels[i]
        rr = slice(max(r0, 0), min(r0 + img.shape[0], geometry.shape[1]))
        cc = slice(max(c0, 0), min(c0 + img.shape[1], geometry.shape[2]))
        if rr.stop <= rr.start or cc.stop <= cc.start:
            notes.append(f"frame {i + 1} lies beside the series' planes; left out")
            continue
        part = img[rr.start - r0:rr.stop - r0, cc.start - c0:cc.stop - c0]
        if seg_type == "LABELMAP":
            for s in segments:
                masks[s.number][plane, rr, cc] |= part == s.number
        else:
            number = _frame_attr(shared, frame, "SegmentIdentificationSequence",
                                 "ReferencedSegmentNumber")
            number = int(number) if number is not None else segments[0].number
            if number not in masks:
                raise SegError(f"{where} belongs to segment {number}, which the file does not "
                               "describe.")
            masks[number][plane, rr, cc] |= part > 0
    return SegVolume(masks, segments, ref_series[0] if ref_series else None,
                     tuple(sorted(planes)), tuple(notes))


# ---------------------------------------------------------------------------- writing

def _codes(label: str) -> tuple[Any, Any]:
    from pydicom.sr.codedict import codes

    kind = {"embolus": codes.SCT.Embolus, "thrombus": codes.SCT.Thrombus}
    return codes.SCT.MorphologicallyAbnormalStructure, kind.get(label.lower(),
                                                                codes.SCT.Lesion)


def write_seg(path: str | os.PathLike[str], masks: Mapping[str, np.ndarray] | np.ndarray,
              source: Sequence[Any], *, geometry: VolumeGeometry | None = None,
              series_description: str = "LayerTune marks", algorithm_type: str = "MANUAL"
              ) -> Path:
    """Write voxel masks as a BINARY DICOM SEG of the series' files (needs highdicom).

    Parameters
    ----------
    path : str or PathLike
    masks : mapping of label -> (Z, Y, X) bool, or one (Z, Y, X) array (label ``embolus``)
        Plane ``k`` belongs to ``source[k]``. Segments are numbered from 1 in the mapping's
        order; ``embolus`` and ``thrombus`` get their SNOMED CT codes, other labels
        "Lesion".
    source : sequence of paths or pydicom Datasets
        The series' single-frame files in plane order (headers suffice).
    geometry : VolumeGeometry, optional
        When given, the sources' positions are checked against it (plane order).
    """
    try:
        import highdicom as hd
    except ImportError as exc:
        raise SegError(f"Writing DICOM SEG needs highdicom: {_INSTALL}.") from exc
    import pydicom

    if isinstance(masks, np.ndarray):
        masks = {"embolus": masks}
    if not masks:
        raise SegError("no mask to write")
    images = [copy.copy(s) if isinstance(s, pydicom.Dataset)
              else pydicom.dcmread(s, stop_before_pixels=True) for s in source]
    for im in images:  # real files carry an empty SpecificCharacterSet: the default one
        if "SpecificCharacterSet" in im and not im.SpecificCharacterSet:
            del im.SpecificCharacterSet
    arrays = [np.asarray(m, bool) for m in masks.values()]
    want = (len(images), int(images[0].Rows), int(images[0].Columns)) if images else None
    if any(a.shape != want for a in arrays):
        raise SegError(f"the masks ({', '.join(str(a.shape) for a in arrays)}) do not match "
                       f"the {len(images)} source slices of {want[1:] if want else '?'}")
    if geometry is not None:
        pos = np.array([im.ImagePositionPatient for im in images], float)
        grid = geometry.voxel_to_world(np.column_stack([np.arange(len(images)),
                                                        np.zeros((len(images), 2))]))
        if geometry.shape != want or np.max(np.abs(pos - grid)) > 0.01:
            raise SegError("the source slices are not the series' planes in plane order")
    descriptions = []
    for number, label in enumerate(masks, 1):
        category, prop = _codes(label)
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number, segment_label=label, segmented_property_category=category,
            segmented_property_type=prop, algorithm_type=algorithm_type))
    stack = np.stack(arrays, axis=-1).astype(np.uint8)
    with warnings.catch_warnings():  # highdicom's doubts about the patients' names
        warnings.simplefilter("ignore", UserWarning)
        try:
            seg = hd.seg.Segmentation(
                source_images=images, pixel_array=stack, segmentation_type="BINARY",
                segment_descriptions=descriptions, series_instance_uid=hd.UID(),
                series_number=900, sop_instance_uid=hd.UID(), instance_number=1,
                manufacturer="LayerTune", manufacturer_model_name="LayerTune",
                software_versions="1", device_serial_number="0",
                series_description=series_description, omit_empty_frames=bool(stack.any()))
        except (ValueError, AttributeError, TypeError) as exc:
            raise SegError(f"the SEG cannot be made from these slices ({exc})") from exc
    p = Path(path)
    seg.save_as(p)
    return p


# ---------------------------------------------------------------------------- project

@dataclass(frozen=True)
class SegImportReport:
    """What :func:`import_seg` stored: planes given a mask (added or replaced), planes
    whose mask was already identical, the segments read and notes."""

    study_id: int
    added: int
    replaced: int
    unchanged: int
    segments: tuple[Segment, ...]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"study_id": self.study_id, "added": self.added, "replaced": self.replaced,
                "unchanged": self.unchanged, "notes": list(self.notes),
                "segments": [{"number": s.number, "label": s.label} for s in self.segments]}


def import_seg(project: Project, study: Study | int, path: str | os.PathLike[str], *,
               segments: Iterable[int] | None = None, sop_uids: Sequence[str] | None = None,
               value: str | None = None, user: str | None = None, history: Any = None
               ) -> Generator[Progress | Notice, None, SegImportReport]:
    """Store a SEG's voxel mask on a volume study, one ``mask`` annotation per plane.

    The union of ``segments`` (default all) is stored on every plane where it is not
    empty (an identical stored mask is left alone; another is replaced, undoably through
    ``history``). ``value``: the masks' label (default the segment's label when one
    segment is read, else ``embolus``). Needs the study's geometry in ``meta``.
    """
    st = study if isinstance(study, Study) else project.study(study)
    try:
        geometry = VolumeGeometry.from_meta(st.meta)
    except ValueError as exc:
        raise SegError(f"study {st.name!r} has no volume geometry to align the SEG to "
                       f"({exc})") from exc
    seg = read_seg(path, geometry, sop_uids=sop_uids, series_uid=st.meta.get("series_uid"))
    numbers = [s.number for s in seg.segments] if segments is None else list(segments)
    volume = seg.union(numbers)
    chosen = [s for s in seg.segments if s.number in numbers]
    label = value or (chosen[0].label if len(chosen) == 1 and chosen[0].label else "embolus")
    planes = [int(k) for k in np.flatnonzero(volume.any(axis=(1, 2)))]
    counts = {"added": 0, "replaced": 0, "unchanged": 0}
    with history.step() if history is not None else nullcontext():
        for done, k in enumerate(planes, 1):
            found = project.annotations(st.id, kind="mask", frame=k)
            geom = Mask(volume[k])
            if found and found[0].geometry == geom and found[0].value == label:
                counts["unchanged"] += 1
                continue
            if history is not None:
                history.add(st.id, "mask", geom, frame=k, value=label)
            else:
                project.add_annotation(st.id, "mask", geom, frame=k, value=label, user=user)
            counts["replaced" if found else "added"] += 1
            yield Progress("seg", done, len(planes), f"storing the mask of {st.name}")
    for note in seg.notes:
        yield Notice(note, "warning")
    return SegImportReport(st.id, **counts, segments=tuple(chosen), notes=seg.notes)


def study_mask_volume(project: Project, study: Study | int, *,
                      source: str | None = "expert") -> np.ndarray:
    """The study's per-plane ``mask`` annotations stacked as a (Z, Y, X) bool volume
    (planes without a mask are empty), e.g. for :func:`write_seg`."""
    st = study if isinstance(study, Study) else project.study(study)
    shape = tuple(VolumeGeometry.from_meta(st.meta).shape)
    out = np.zeros(shape, bool)
    for a in project.annotations(st.id, kind="mask", source=source):
        if a.frame is not None and 0 <= a.frame < shape[0]:
            if a.geometry.array.shape != shape[1:]:
                raise SegError(f"the mask of plane {a.frame} of {st.name!r} is "
                               f"{a.geometry.array.shape}, not the study's {shape[1:]}")
            out[a.frame] |= a.geometry.array
    return out
