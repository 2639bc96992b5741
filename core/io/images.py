"""Image sets: a folder of stills with optional masks, as public datasets ship them.

The layout (Kvasir-SEG, CVC-ClinicDB)::

    dataset/
      images/   a.jpg  b.jpg  c.jpg ...      the stills ("Original/" is accepted too)
      masks/    a.jpg  b.jpg  ...            optional; a mask has its image's stem
                                             ("Ground Truth/" is accepted too)

Folder names are matched without regard to case. Frame ``i`` of the study is the
``i``-th image in natural order (``img2`` before ``img10``); a mask pairs with the
image of the same stem, whatever its suffix (Kvasir-SEG's masks are JPEG). Images
without a mask and masks without an image are named in a :class:`~core.events.Notice`.

Stills may differ in size: each is returned at its own size and the study's
``height``/``width`` (and :attr:`ImageSetSource.shape`) are those of the first image.
Masks are read as grey levels and binarised at half range (>= 128 of 255), which
also undoes JPEG ringing around the mask's edge.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import threading
from collections import OrderedDict
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.events import Notice, Progress, drain
from core.io.base import StudyInfo, quote
from core.io.video import IMAGE_EXTENSIONS, VideoError, frame_files
from core.io.video.index import looks_like_image

__all__ = ["IMAGE_DIRS", "MASK_DIRS", "ImageSetError", "ImageSetIndex", "ImageSetReader",
           "ImageSetSource", "MASK_THRESHOLD"]

IMAGE_DIRS = ("images", "original")
"""Names (any case) of the sub-folder holding the stills, in order of preference."""
MASK_DIRS = ("masks", "ground truth", "groundtruth")
"""Names (any case) of the optional sub-folder holding the masks."""
MASK_THRESHOLD = 128
"""A mask pixel is foreground when its grey level is >= this (half of 0..255)."""

_PROGRESS_EVERY = 64
_NAMES_SHOWN = 8  # file names listed in a notice before "and N more"


class ImageSetError(VideoError):
    """An image set cannot be read; the message names the file. A :class:`VideoError`,
    so every place that reports unreadable input reports this one too."""


@dataclass(frozen=True)
class ImageSetIndex:
    """What :meth:`ImageSetReader.scan` stores with the study (``StudyInfo.index``):
    the set's folder, its sub-folders as spelt on disk (``masks_dir`` None when it has
    none), the image file names in frame order, per image its mask's file name or None,
    and the first image's size in pixels."""

    path: str
    images_dir: str
    masks_dir: str | None
    files: tuple[str, ...]
    masks: tuple[str | None, ...]
    height: int
    width: int

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ImageSetIndex:
        d = json.loads(text)
        return cls(d["path"], d["images_dir"], d.get("masks_dir"), tuple(d["files"]),
                   tuple(d["masks"]), int(d["height"]), int(d["width"]))


def _subdir(root: Path, names: Sequence[str]) -> str | None:
    """The sub-folder of ``root`` named one of ``names`` (any case), as spelt on disk."""
    with os.scandir(root) as entries:
        found = {e.name.casefold(): e.name for e in entries
                 if e.is_dir() and not e.name.startswith(".")}
    for n in names:
        if n in found:
            return found[n]
    return None


def _decode(path: Path, flags: int) -> np.ndarray:
    """Decode one image file with ``flags`` (cv2.IMREAD_*), or raise ImageSetError."""
    try:
        data = np.fromfile(path, np.uint8)  # not cv2.imread: any path encoding works
    except OSError as exc:
        raise ImageSetError(f"The image {quote(path)} cannot be read ({exc.strerror}); "
                            f"was it moved or deleted? File: {path}", path) from exc
    image = cv2.imdecode(data, flags) if data.size else None
    if image is None:
        raise ImageSetError(f"The image {quote(path)} cannot be decoded; it may be damaged "
                            f"or not an image. File: {path}", path)
    return image


def _names(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _hash(root: Path, index: ImageSetIndex) -> str:
    """SHA-256 over every image and mask: relative name, size and bytes, in frame order."""
    h = hashlib.sha256()
    rel = [f"{index.images_dir}/{n}" for n in index.files]
    rel += [f"{index.masks_dir}/{m}" for m in index.masks if m is not None]
    for name in rel:
        f = root / name
        try:
            h.update(name.encode("utf-8", "surrogateescape") + b"\0")
            h.update(f.stat().st_size.to_bytes(8, "little"))
            with open(f, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
        except OSError as exc:
            raise ImageSetError(f"{quote(f)} cannot be read ({exc.strerror}). File: {f}",
                                f) from exc
    return h.hexdigest()


class ImageSetReader:
    """Reader of image sets (kind ``"images"``): ``images/`` + optional ``masks/``."""

    name = "images"
    kinds = ("images",)
    description = ("image sets (a folder holding images/ and optional masks/ with matching "
                   "file names, as Kvasir-SEG)")

    def can_read(self, path: str | os.PathLike[str]) -> bool:
        """True for a folder with an ``images/`` (or ``Original/``) sub-folder."""
        p = Path(path)
        try:
            return p.is_dir() and _subdir(p, IMAGE_DIRS) is not None
        except OSError:
            return False

    def scan(self, path: str | os.PathLike[str]
             ) -> Generator[Progress | Notice, None, list[StudyInfo]]:
        """One study of all the stills of the set, with their masks paired by stem.

        Every file's image signature is checked; only the first image is decoded.

        Yields
        ------
        Progress
            Stage ``"scan"``: files checked.
        Notice
            ``"warning"``: images without a mask, masks without an image, two masks
            of one stem.

        Raises
        ------
        ImageSetError
            No images, a file that is not an image, an unreadable folder.
        """
        root = Path(path)
        try:
            images_dir = _subdir(root, IMAGE_DIRS)
            masks_dir = _subdir(root, MASK_DIRS)
            files = frame_files(root / images_dir) if images_dir else []
            mask_files = frame_files(root / masks_dir) if masks_dir else []
        except OSError as exc:
            raise ImageSetError(f"The image set {quote(root)} cannot be listed "
                                f"({exc.strerror}). Folder: {root}", root) from exc
        if not files:
            kinds = "/".join(sorted(e[1:] for e in IMAGE_EXTENSIONS))
            raise ImageSetError(f"The image set {quote(root)} has no images ({kinds}) in "
                                f"its {images_dir or 'images'}/ folder. Folder: {root}", root)
        by_stem: dict[str, str] = {}
        for m in mask_files:
            by_stem.setdefault(os.path.splitext(m)[0], m)
        masks = tuple(by_stem.get(os.path.splitext(f)[0]) for f in files)
        paired = {m for m in masks if m is not None}
        doubled = [m for m in mask_files if by_stem[os.path.splitext(m)[0]] != m]
        orphans = [m for m in mask_files if m not in paired and m not in doubled]
        checks = [(root / images_dir / f) for f in files]
        checks += [root / str(masks_dir) / m for m in masks if m is not None]
        for k, f in enumerate(checks):
            if not looks_like_image(f):
                raise ImageSetError(f"{quote(f)} in the image set {quote(root)} is not a "
                                    f"readable image. File: {f}", f)
            if k % (4 * _PROGRESS_EVERY) == 0:
                yield Progress("scan", k, len(checks), f"checking images of {root.name}")
        yield Progress("scan", len(checks), len(checks), f"checked images of {root.name}")
        height, width = _decode(checks[0], cv2.IMREAD_COLOR).shape[:2]
        missing = [f for f, m in zip(files, masks) if m is None] if masks_dir else []
        for names, what in (
                (missing, f"of {len(files)} images of {quote(root)} have no mask in "
                          f"{masks_dir}/"),
                (orphans, f"masks in {masks_dir}/ of {quote(root)} have no image in "
                          f"{images_dir}/ and were left out"),
                (doubled, f"masks in {masks_dir}/ of {quote(root)} share a name with another "
                          "mask and were left out")):
            if names:
                yield Notice(f"{len(names)} {what}: {_names(names)}.", "warning")
        index = ImageSetIndex(str(root), images_dir, masks_dir, tuple(files), masks,
                              int(height), int(width))
        meta: dict[str, Any] = {
            "images_dir": images_dir, "masks_dir": masks_dir, "images": list(files),
            "masks": list(masks), "n_masks": len(paired),
        }
        return [StudyInfo(str(root), "images", root.name or str(root), len(files),
                          int(height), int(width), 0.0, _hash(root, index), meta=meta,
                          index=index.to_json())]

    def open(self, study: Any, *, index: str | None = None,
             cache_frames: int = 256) -> ImageSetSource:
        """An :class:`ImageSetSource` on ``study.path``, from ``index`` (or
        ``study.index``) when given, else by scanning the folder again."""
        root = Path(study.path)
        text = index if index is not None else getattr(study, "index", None)
        if not root.is_dir():
            raise ImageSetError(f"The image set {quote(root)} was not found. Folder: {root}",
                                root)
        if text:
            idx = ImageSetIndex.from_json(text)
            if idx.path != str(root):  # the same content, found elsewhere
                idx = replace(idx, path=str(root))
        else:
            infos = drain(self.scan(root))
            idx = ImageSetIndex.from_json(infos[0].index or "")
        return ImageSetSource(idx, cache_frames)


class ImageSetSource:
    """Random access to the stills (RGB) and masks (bool) of a scanned image set.

    Implements :class:`core.io.base.FrameSource`. Thread-safe. Each still keeps its own
    size: :attr:`shape` is the first image's, and :meth:`read_many` needs one size.

    Parameters
    ----------
    index : ImageSetIndex
        From :meth:`ImageSetReader.scan`.
    cache_frames : int
        Decoded stills kept (LRU), >= 0.
    max_cache_bytes : int
        Upper bound on the cache's memory.
    """

    def __init__(self, index: ImageSetIndex, cache_frames: int = 256, *,
                 max_cache_bytes: int = 1 << 30) -> None:
        if cache_frames < 0 or max_cache_bytes < 0:
            raise ValueError(f"cache_frames and max_cache_bytes must be >= 0, got "
                             f"{cache_frames} and {max_cache_bytes}")
        if len(index.masks) != len(index.files) or not index.files:
            raise ValueError(f"the index of {index.path} is inconsistent: "
                             f"{len(index.files)} images, {len(index.masks)} mask entries")
        self.index = index
        self._root = Path(index.path)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_bytes = 0
        self._max_frames = cache_frames
        self._max_bytes = max_cache_bytes
        self._lock = threading.Lock()
        self._closed = False

    @property
    def n_frames(self) -> int:
        """Number of stills."""
        return len(self.index.files)

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the first still in pixels (others may differ)."""
        return self.index.height, self.index.width

    @property
    def fps(self) -> float:
        """Always 0.0: stills have no frame rate."""
        return 0.0

    def __len__(self) -> int:
        return self.n_frames

    def image_path(self, index: int) -> Path:
        """The file of still ``index``."""
        return self._root / self.index.images_dir / self.index.files[self._check(index)]

    def mask_path(self, index: int) -> Path | None:
        """The mask file of still ``index``, or None when it has none."""
        name = self.index.masks[self._check(index)]
        return None if name is None else self._root / str(self.index.masks_dir) / name

    def read(self, index: int) -> np.ndarray:
        """Still ``index`` as a new (H, W, 3) uint8 RGB array, H x W its own size.

        Raises
        ------
        IndexError
            ``index`` outside ``0 .. n_frames - 1``.
        ImageSetError
            The file is gone or cannot be decoded.
        """
        return self._image(self._check(index), keep=True).copy()

    def read_many(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Stills ``indices`` as (N, H, W, 3) uint8 RGB, in that order; not cached.

        Raises
        ------
        ValueError
            The stills asked for differ in size (read them one at a time).
        """
        arr = np.asarray(indices).ravel()
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"frame indices must be integers, got {arr.dtype}")
        idx = [self._check(int(k)) for k in arr]
        images = {k: self._image(k, keep=False) for k in sorted(set(idx))}
        shapes = {im.shape for im in images.values()}
        if len(shapes) > 1:
            raise ValueError(f"the images of {quote(self._root)} asked for differ in size "
                             f"{sorted(shapes)}; read them one at a time")
        shape = shapes.pop() if shapes else (*self.shape, 3)
        out = np.empty((len(idx), *shape), np.uint8)
        for j, k in enumerate(idx):
            out[j] = images[k]
        return out

    def has_mask(self, index: int) -> bool:
        """True when still ``index`` has a mask."""
        return self.index.masks[self._check(index)] is not None

    def mask(self, index: int) -> np.ndarray | None:
        """The mask of still ``index`` as an (H, W) bool array (grey >= 128), or None.

        Raises
        ------
        ImageSetError
            The mask is unreadable, or its size differs from its image's.
        """
        path = self.mask_path(index)
        if path is None:
            return None
        grey = _decode(path, cv2.IMREAD_GRAYSCALE)  # 8-bit (16-bit files: top byte)
        image_shape = self._image(int(index), keep=True).shape[:2]
        if grey.shape != image_shape:
            raise ImageSetError(f"The mask {quote(path)} is {grey.shape[1]}x{grey.shape[0]} "
                                f"but its image is {image_shape[1]}x{image_shape[0]}. "
                                f"File: {path}", path)
        return grey >= MASK_THRESHOLD

    def close(self) -> None:
        """Drop the cache; later reads raise ``ValueError``."""
        with self._lock:
            self._closed = True
            self._cache.clear()
            self._cache_bytes = 0

    def __enter__(self) -> ImageSetSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals --------------------------------------------------------------------

    def _check(self, index: int) -> int:
        i = operator.index(index)
        if not 0 <= i < self.n_frames:
            raise IndexError(f"image {i} is outside 0..{self.n_frames - 1} of "
                             f"{quote(self._root)}")
        return i

    def _image(self, i: int, keep: bool) -> np.ndarray:
        """RGB still ``i``: the cached array (do not modify) or a new one."""
        with self._lock:
            if self._closed:
                raise ValueError(f"the image source of {self._root} is closed")
            hit = self._cache.get(i)
            if hit is not None:
                self._cache.move_to_end(i)
                return hit
        path = self._root / self.index.images_dir / self.index.files[i]
        bgr = _decode(path, cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)
        if keep and self._max_frames and rgb.nbytes <= self._max_bytes:
            with self._lock:
                if not self._closed and i not in self._cache:
                    self._cache[i] = rgb
                    self._cache_bytes += rgb.nbytes
                    while (len(self._cache) > self._max_frames
                           or self._cache_bytes > self._max_bytes):
                        _, old = self._cache.popitem(last=False)
                        self._cache_bytes -= old.nbytes
        return rgb
