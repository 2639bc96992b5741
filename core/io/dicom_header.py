"""A minimal fast reader of the header of an ordinary DICOM image file.

Scanning a CT study means reading thousands of headers; pydicom's general reader spends
most of its time converting elements nobody asked for. :func:`read_fast` walks the
elements of a Part 10 file with ``struct`` (PS3.5 §7.1: explicit or implicit VR, little
endian), skipping every value it does not want (sequences of undefined length included,
PS3.5 §7.5) and stopping at Pixel Data, whose byte offset it records. It keeps only the
elements :data:`WANTED` names, as text or unsigned/signed integers.

It returns None, so that the caller reads the file with pydicom instead, for anything
out of the ordinary: no ``DICM`` preamble, big endian or deflated data sets, multi-frame
images (functional groups), a Modality LUT Sequence, a DICOMDIR, character sets other
than the default, Latin-1 or UTF-8, or a file that ends early.
"""

from __future__ import annotations

import os
import struct
from typing import Any

__all__ = ["TEXT_TAGS", "WANTED", "read_fast"]

TEXT_TAGS: dict[int, str] = {
    0x00080016: "SOPClassUID", 0x00080018: "SOPInstanceUID", 0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID", 0x00080060: "Modality", 0x00200011: "SeriesNumber",
    0x0008103E: "SeriesDescription", 0x00080008: "ImageType", 0x00100020: "PatientID",
    0x00200013: "InstanceNumber", 0x00200032: "ImagePositionPatient",
    0x00200037: "ImageOrientationPatient", 0x00280030: "PixelSpacing",
    0x00281053: "RescaleSlope", 0x00281052: "RescaleIntercept", 0x00280008: "NumberOfFrames",
    0x00181120: "GantryDetectorTilt", 0x00180010: "ContrastBolusAgent",
    0x00080005: "SpecificCharacterSet"}
"""Text elements kept (UI, CS, LO, SH, IS, DS), by tag."""
_BINARY_TAGS: dict[int, str] = {
    0x00280010: "Rows", 0x00280011: "Columns", 0x00280002: "SamplesPerPixel",
    0x00280100: "BitsAllocated", 0x00280101: "BitsStored", 0x00280103: "PixelRepresentation",
    0x00280120: "PixelPaddingValue", 0x00280121: "PixelPaddingRangeLimit"}
WANTED = {**TEXT_TAGS, **_BINARY_TAGS}
"""Every element :func:`read_fast` keeps, by tag."""
_GIVE_UP = {0x52009229, 0x52009230, 0x00283000, 0x00041220}  # functional groups, LUT, DICOMDIR
_PIXEL_DATA = 0x7FE00010
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT",
             b"SV", b"UV"}
_CHARSETS = {"": "latin-1", "ISO_IR 6": "latin-1", "ISO_IR 100": "latin-1",
             "ISO_IR 192": "utf-8"}
_IMPLICIT, _EXPLICIT = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1"
_CHUNK = 1 << 16
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD


class _Fallback(Exception):
    """The file needs pydicom."""


class _Buffer:
    """The start of a file, read further on demand."""

    def __init__(self, f) -> None:
        self.f = f
        self.data = bytearray(f.read(_CHUNK))

    def need(self, end: int) -> None:
        while len(self.data) < end:
            more = self.f.read(max(_CHUNK, end - len(self.data)))
            if not more:
                raise _Fallback  # ends early: let pydicom say what is wrong
            self.data += more


def _element(buf: _Buffer, pos: int, implicit: bool) -> tuple[int, int, int]:
    """(tag, header length, value length) of the element at ``pos``."""
    buf.need(pos + 12)
    d = buf.data
    group, elem = struct.unpack_from("<HH", d, pos)
    tag = group << 16 | elem
    if implicit or group == 0xFFFE:
        return tag, 8, struct.unpack_from("<I", d, pos + 4)[0]
    if bytes(d[pos + 4:pos + 6]) in _LONG_VRS:
        return tag, 12, struct.unpack_from("<I", d, pos + 8)[0]
    return tag, 8, struct.unpack_from("<H", d, pos + 6)[0]


def _skip_undefined(buf: _Buffer, pos: int, implicit: bool) -> int:
    """Position after a sequence (or UN) of undefined length whose items start at ``pos``."""
    while True:
        tag, hdr, length = _element(buf, pos, True)
        pos += hdr
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM:
            raise _Fallback
        if length != _UNDEFINED:
            pos += length
            continue
        while True:  # an item of undefined length: elements up to the item delimiter
            tag, hdr, length = _element(buf, pos, implicit)
            pos += hdr
            if tag == _ITEM_END:
                break
            if length == _UNDEFINED:
                pos = _skip_undefined(buf, pos, implicit)
            else:
                pos += length


def _parse(buf: _Buffer) -> dict[str, Any]:
    d = buf.data
    if len(d) < 132 or d[128:132] != b"DICM":
        raise _Fallback
    pos, ts = 132, ""
    while True:  # file meta information: explicit VR little endian
        buf.need(pos + 8)
        if struct.unpack_from("<H", d, pos)[0] != 0x0002:
            break
        tag, hdr, length = _element(buf, pos, False)
        if tag == 0x00020010:
            buf.need(pos + hdr + length)
            ts = bytes(d[pos + hdr:pos + hdr + length]).decode("ascii").strip("\0 ")
        pos += hdr + length
    if ts not in (_IMPLICIT, _EXPLICIT) and not ts.startswith("1.2.840.10008.1.2.4."):
        raise _Fallback  # big endian, deflate, RLE (explicit too, but rare), private
    implicit = ts == _IMPLICIT
    raw: dict[int, bytes] = {}
    out: dict[str, Any] = {"transfer_syntax": ts, "pixel_offset": -1, "pixel_length": 0,
                           "has_pixels": False}
    while True:
        try:
            buf.need(pos + 8)
        except _Fallback:
            break  # end of the data set: no pixel data
        tag, hdr, length = _element(buf, pos, implicit)
        if tag == _PIXEL_DATA:
            out["has_pixels"] = True
            if length != _UNDEFINED:
                out["pixel_offset"], out["pixel_length"] = pos + hdr, length
            break
        if tag in _GIVE_UP or tag > _PIXEL_DATA:
            if tag in _GIVE_UP:
                raise _Fallback
            break
        pos += hdr
        if length == _UNDEFINED:
            pos = _skip_undefined(buf, pos, implicit or bytes(d[pos - 8:pos - 6]) == b"UN")
            continue
        if tag in WANTED:
            buf.need(pos + length)
            raw[tag] = bytes(d[pos:pos + length])
        pos += length
    charset = raw.get(0x00080005, b"").decode("ascii", "replace").strip("\0 ")
    encoding = _CHARSETS.get(charset)
    if encoding is None:
        raise _Fallback
    signed = raw.get(0x00280103, b"\0\0")[:2] == b"\1\0"
    for tag, value in raw.items():
        name = WANTED[tag]
        if tag in _BINARY_TAGS:
            if len(value) >= 2:
                fmt = "<h" if signed and tag in (0x00280120, 0x00280121) else "<H"
                out[name] = struct.unpack_from(fmt, value)[0]
            continue
        text = value.decode(encoding, "replace").strip("\0 ")
        parts = [p.strip("\0 ") for p in text.split("\\")]
        out[name] = parts if len(parts) > 1 or name == "ImageType" else parts[0]
    frames = out.get("NumberOfFrames")
    if frames not in (None, "", "1", "0"):
        raise _Fallback  # multi-frame: functional groups, per-frame values
    return out


def read_fast(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The :data:`WANTED` elements of an ordinary DICOM image file, or None.

    Returns
    -------
    dict or None
        Keyword -> value (text elements as ``str``, or a list of ``str`` for several
        values and always for ImageType; US/SS elements as ``int``, PixelPaddingValue
        signed when PixelRepresentation is 1), plus ``transfer_syntax``, ``has_pixels``,
        ``pixel_offset`` (byte offset of a defined-length Pixel Data value, else -1) and
        ``pixel_length``. None when the file needs pydicom (see the module docstring).

    Raises
    ------
    OSError
        The file cannot be opened or read.
    """
    with open(path, "rb") as f:
        try:
            return _parse(_Buffer(f))
        except (_Fallback, struct.error, UnicodeDecodeError):
            return None
