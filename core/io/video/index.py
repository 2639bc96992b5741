"""The import-time pass over a video file or a folder of frames.

:func:`scan_video` decodes a video once, front to back, with OpenCV's FFmpeg backend,
which is the decoder :class:`core.io.video.FrameSource` uses afterwards. That sequential
decode *defines* the video: frame ``i`` is the ``i``-th picture it yields. The scan
counts frames exactly (``CAP_PROP_FRAME_COUNT`` is only the container's claim, which
is estimated for some formats and wrong for damaged files), notes the intra-coded
frames (seek landing points), each frame's presentation time and a fingerprint of
its pixels. The fingerprints let every later random read be checked against this
sequential decode, so the frame shown for labelling is provably the frame decoded
for training.

A folder of frames is a sequence of image files (png/jpg/jpeg/bmp/tif/tiff) in
natural order (``frame2`` before ``frame10``); frame ``i`` is the ``i``-th file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Generator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np

from core.events import Progress

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".wmv", ".asf", ".flv", ".mpg",
    ".mpeg", ".mpe", ".m2v", ".ts", ".mts", ".m2ts", ".vob", ".ogv", ".3gp", ".3g2",
    ".mxf", ".dv", ".mjpeg", ".mjpg", ".h264", ".264", ".hevc", ".265", ".y4m",
})
"""File suffixes taken as videos without probing (lower case)."""

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
"""Suffixes of the image files that make up a folder of frames (lower case)."""

# Files that are never probed as video (other readers own them, or they are data).
_NOT_VIDEO = IMAGE_EXTENSIONS | {
    ".dcm", ".dicom", ".ima", ".nii", ".gz", ".mhd", ".raw", ".nrrd", ".txt", ".csv",
    ".json", ".xml", ".yaml", ".yml", ".md", ".pdf", ".npy", ".npz", ".db", ".sqlite",
    ".pt", ".pth", ".zip", ".py",
}
# Magic numbers of the frame image formats, to check a folder without decoding it.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")
_FP_ROW_STEP = 4  # fingerprint every 4th row: any damaged 8x8 or 16x16 block is seen
_PROGRESS_EVERY = 64


class VideoError(Exception):
    """A video or frame folder cannot be read. The message names the file.

    Attributes
    ----------
    path : str or None
        The file or folder concerned.
    """

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else str(path)


@dataclass(frozen=True)
class VideoInfo:
    """What the import-time scan learnt about a video or a folder of frames.

    Attributes
    ----------
    path : str
        The video file or the frame folder.
    n_frames : int
        Exact number of frames of the sequential decode (>= 1).
    fps : float
        Frames per second from the container; 0.0 when unknown (always for folders).
    height, width : int
        Frame size in pixels. For a folder, the size of frame 0 (files may differ).
    kind : str
        ``"video"`` or ``"folder"``.
    keyframes : tuple of int
        Indices of intra-coded frames, ascending, starting with 0 (videos only).
    pts : tuple of float
        Presentation time of each frame as OpenCV reports it (``CAP_PROP_PTS``, in
        frame units); lets a reader find where a seek landed (videos only).
    fingerprints : tuple of int
        CRC-32 of every 4th pixel row of each decoded BGR frame (videos only).
    files : tuple of str
        Frame file names in frame order, relative to ``path`` (folders only).
    warning : str
        Empty, or a sentence for the user (for example: the file is truncated and only
        its first frames can be used).
    """

    path: str
    n_frames: int
    fps: float
    height: int
    width: int
    kind: str
    keyframes: tuple[int, ...] = field(default=(), repr=False)
    pts: tuple[float, ...] = field(default=(), repr=False)
    fingerprints: tuple[int, ...] = field(default=(), repr=False)
    files: tuple[str, ...] = field(default=(), repr=False)
    warning: str = ""

    def to_json(self) -> str:
        """The whole index as JSON, to store with a project and skip a rescan."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> VideoInfo:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(**{f.name: tuple(data[f.name]) if isinstance(data[f.name], list)
                      else data[f.name] for f in fields(cls) if f.name in data})


def natural_key(name: str) -> tuple[tuple[object, ...], str]:
    """Sort key putting ``frame2`` before ``frame10`` (digit runs compare as numbers)."""
    parts = re.split(r"([0-9]+)", name)
    # re.split with one group alternates text / digits, so types never mix per position
    return tuple(int(t) if i % 2 else t.casefold() for i, t in enumerate(parts)), name


def frame_files(folder: str | os.PathLike[str]) -> list[str]:
    """Names of the image files directly in ``folder``, in natural frame order."""
    with os.scandir(folder) as entries:
        names = [e.name for e in entries
                 if not e.name.startswith(".") and e.is_file()
                 and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS]
    return sorted(names, key=natural_key)


def frame_fingerprint(bgr: np.ndarray) -> int:
    """CRC-32 of every 4th row of a (H, W, 3) uint8 frame, seeded with its shape."""
    seed = zlib.crc32(np.asarray(bgr.shape, np.int64).tobytes())
    return zlib.crc32(np.ascontiguousarray(bgr[::_FP_ROW_STEP]), seed)


def _quote(path: Path) -> str:
    return f"\u201c{path.name or path}\u201d"


def open_capture(path: str | os.PathLike[str], *, threads: int = 0,
                 raw: bool = False) -> cv2.VideoCapture:
    """Open ``path`` with OpenCV's FFmpeg backend, or raise a :class:`VideoError`.

    Parameters
    ----------
    threads : int
        Decoder threads; 0 lets OpenCV choose (one per CPU, frame threading).
    raw : bool
        Demux only (``CAP_PROP_FORMAT = -1``): ``retrieve()`` gives each compressed
        packet as a (1, N) uint8 array and nothing is decoded.
    """
    p = Path(path)
    if not p.exists():
        raise VideoError(f"The video {_quote(p)} was not found. File: {p}", p)
    if p.is_file() and p.stat().st_size == 0:
        raise VideoError(f"The video {_quote(p)} is empty (0 bytes). File: {p}", p)
    params = [cv2.CAP_PROP_N_THREADS, threads] if threads > 0 else []
    if raw:
        params += [cv2.CAP_PROP_FORMAT, -1]
    cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG, params)
    if not cap.isOpened():
        cap.release()
        raise VideoError(
            f"{_quote(p)} cannot be opened as a video. The file may be damaged or "
            "incomplete (for example an interrupted recording or a partial copy), or "
            f"be in a format this installation cannot decode. File: {p}", p)
    return cap


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode one frame image as (H, W, 3) uint8 BGR, or raise a :class:`VideoError`."""
    p = Path(path)
    try:
        data = np.fromfile(p, np.uint8)  # not cv2.imread: works with any path encoding
    except OSError as exc:
        raise VideoError(f"The frame image {_quote(p)} cannot be read ({exc.strerror}). "
                         f"File: {p}", p) from exc
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise VideoError(f"The frame image {_quote(p)} cannot be decoded; it may be "
                         f"damaged or not an image. File: {p}", p)
    return image


def looks_like_image(path: Path) -> bool:
    """Whether ``path`` starts like a PNG, JPEG, BMP or TIFF file (magic bytes)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return False
    return head.startswith(_IMAGE_MAGIC)


def is_video_path(path: str | os.PathLike[str]) -> bool:
    """True for a video file (by suffix, else by probing) or a folder holding frames.

    Images, DICOM files and common data files are never probed.
    """
    p = Path(path)
    if p.is_dir():
        try:
            return bool(frame_files(p))
        except OSError:
            return False
    if not p.is_file():
        return False
    suffix = p.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return True
    try:
        if suffix in _NOT_VIDEO or p.stat().st_size == 0:
            return False
        with open(p, "rb") as f:
            if f.read(132)[128:132] == b"DICM":  # DICOM files often have no suffix
                return False
    except OSError:
        return False
    cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG)
    try:  # a single still image opens too: ask for two frames
        return cap.isOpened() and cap.grab() and cap.grab()
    finally:
        cap.release()


def content_hash(path: str | os.PathLike[str]) -> str:
    """SHA-256 (hex) of a video file's bytes, or of a frame folder's frames.

    For a folder, each frame file contributes its name, its size and its bytes, in
    frame order; other files in the folder are ignored. Files are streamed.
    """
    p = Path(path)
    h = hashlib.sha256()
    try:
        if p.is_dir():
            for name in frame_files(p):
                f = p / name
                h.update(name.encode("utf-8", "surrogateescape") + b"\0")
                h.update(f.stat().st_size.to_bytes(8, "little"))
                _hash_file(h, f)
        elif p.is_file():
            _hash_file(h, p)
        else:
            raise VideoError(f"{_quote(p)} was not found. Path: {p}", p)
    except OSError as exc:
        where = Path(exc.filename) if exc.filename else p
        raise VideoError(f"{_quote(where)} cannot be read ({exc.strerror}). Path: {where}",
                         where) from exc
    return h.hexdigest()


def _hash_file(h: hashlib._Hash, path: Path) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)


def scan_video(path: str | os.PathLike[str]) -> Generator[Progress, None, VideoInfo]:
    """Index a video file or a frame folder: the import-time pass.

    A video is decoded once, sequentially. A file that cannot be opened, or yields no
    frame, raises. A file that decodes fewer frames than its container announces is
    treated as truncated: its frames are kept but the last decoded one is dropped
    (it is usually cut in the middle) and ``VideoInfo.warning`` says so. A folder is
    listed and each file's image signature checked; only frame 0 is decoded.

    Parameters
    ----------
    path : str or PathLike
        A video file or a folder of image frames.

    Yields
    ------
    Progress
        Stage ``"scan"``: frames (or files) done out of the best known total.

    Returns
    -------
    VideoInfo

    Raises
    ------
    VideoError
        Missing, unreadable, empty or frameless input; the message names the file.
    """
    p = Path(path)
    key = _scan_key(p)
    info = yield from (_scan_folder(p) if p.is_dir() else _scan_file(p))
    if key is not None:
        with _SCANS_LOCK:
            _SCANS[key] = info
            while len(_SCANS) > 16:
                _SCANS.popitem(last=False)
    return info


# Scans of this process, on (path, size, modification time): opening a video that was
# just imported must not decode it all again (see core.io.video.open_source).
_SCANS: OrderedDict[tuple[str, int, int], VideoInfo] = OrderedDict()
_SCANS_LOCK = threading.Lock()


def _scan_key(p: Path) -> tuple[str, int, int] | None:
    try:
        st = p.stat()
        return str(p.resolve()), st.st_size, st.st_mtime_ns
    except OSError:
        return None


def recent_scan(path: str | os.PathLike[str]) -> VideoInfo | None:
    """The result of an earlier :func:`scan_video` of ``path`` in this process, if the
    file (size, modification time) is unchanged since; else None."""
    key = _scan_key(Path(path))
    with _SCANS_LOCK:
        info = _SCANS.get(key) if key is not None else None
        if info is not None:
            _SCANS.move_to_end(key)
        return info


def _scan_folder(folder: Path) -> Generator[Progress, None, VideoInfo]:
    try:
        names = frame_files(folder)
    except OSError as exc:
        raise VideoError(f"The folder {_quote(folder)} cannot be listed ({exc.strerror}). "
                         f"Folder: {folder}", folder) from exc
    if not names:
        kinds = "/".join(sorted(e[1:] for e in IMAGE_EXTENSIONS))
        raise VideoError(f"The folder {_quote(folder)} holds no frame images ({kinds}). "
                         f"Folder: {folder}", folder)
    for k, name in enumerate(names):
        if not looks_like_image(folder / name):
            raise VideoError(f"{_quote(Path(name))} in the folder {_quote(folder)} is not a "
                             f"readable image (frame {k}). File: {folder / name}",
                             folder / name)
        if k % (4 * _PROGRESS_EVERY) == 0:
            yield Progress("scan", k, len(names), f"checking frames of {folder.name}")
    height, width = read_image(folder / names[0]).shape[:2]
    yield Progress("scan", len(names), len(names), f"checked frames of {folder.name}")
    return VideoInfo(str(folder), len(names), 0.0, int(height), int(width), "folder",
                     files=tuple(names))


def _scan_file(p: Path) -> Generator[Progress, None, VideoInfo]:
    cap = open_capture(p)
    keyframes: list[int] = []
    pts: list[float] = []
    prints: list[int] = []
    shape: tuple[int, ...] | None = None
    try:
        announced = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        announced = int(announced) if np.isfinite(announced) and announced > 0 else 0
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        fps = fps if np.isfinite(fps) and fps > 0 else 0.0
        while True:
            try:
                ok = cap.grab()
                ok, frame = cap.retrieve() if ok else (False, None)
            except cv2.error:  # treated like the end of decodable data
                ok, frame = False, None
            if not ok or frame is None:
                break
            if shape is None:
                shape = frame.shape
            elif frame.shape != shape:
                raise VideoError(f"The video {_quote(p)} changes frame size at frame "
                                 f"{len(prints)} ({shape[1]}x{shape[0]} to {frame.shape[1]}"
                                 f"x{frame.shape[0]}); such videos are not supported. "
                                 f"File: {p}", p)
            if int(cap.get(cv2.CAP_PROP_FRAME_TYPE)) == ord("I"):
                keyframes.append(len(prints))
            pts.append(float(cap.get(cv2.CAP_PROP_PTS)))
            prints.append(frame_fingerprint(frame))
            if len(prints) % _PROGRESS_EVERY == 0:
                yield Progress("scan", len(prints), max(announced, len(prints)),
                               f"indexing {p.name}")
    finally:
        cap.release()
    n = len(prints)
    if n == 0 or shape is None:
        raise VideoError(f"No frame of the video {_quote(p)} can be decoded; the file is "
                         f"damaged or incomplete. File: {p}", p)
    warning = ""
    # one frame of slack: some containers only estimate the count from the duration
    if announced and n < announced - 1:
        kept = max(1, n - 1)
        warning = (f"The video {_quote(p)} seems incomplete (an interrupted recording or "
                   f"a partial copy?): it announces {announced} frames but only {n} can "
                   f"be decoded. Its first {kept} frames are used; the last decoded frame "
                   "was left out because it is usually damaged.")
        n = kept
    yield Progress("scan", n, n, f"indexed {p.name}")
    keys = tuple(sorted({0, *(k for k in keyframes if k < n)}))
    return VideoInfo(str(p), n, fps, int(shape[0]), int(shape[1]), "video", keyframes=keys,
                     pts=tuple(pts[:n]), fingerprints=tuple(prints[:n]), warning=warning)
