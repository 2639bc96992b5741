"""Decoders that read a video's compressed packets instead of seeking OpenCV's decoder.

These are workers behind :class:`core.io.video.FrameSource`, beside
:class:`core.io.video.decode.Decoder`; nothing here is public.

They do not use OpenCV's seek at all. A demux-only capture
(:class:`Packets`: ``CAP_PROP_FORMAT = -1``, microseconds a packet) hands out the
compressed packets, and FFmpeg decodes them from a private temporary file:

- :class:`IntraDecoder` serves intra-only MJPEG files (every frame a JPEG): the one
  packet of the frame, written as a ``.jpg``;
- :class:`GopDecoder` serves cold jumps into inter-coded files whose packets are
  stored in presentation order (no B-frames: mp4v as OpenCV writes it, H.264
  without B-frames, VP8): the packets from the keyframe at or before the frame to
  the end of its GOP, written as a minimal AVI file (:func:`avi_file`; a container
  opens in ~0.15 ms, a raw elementary stream in ~2 ms, as FFmpeg probes it). To reach
  a frame of a 12-frame GOP it decodes the 0-11 frames before it where OpenCV's seek
  decodes 16-27, and then steps forward through the rest of the GOP.

Either way FFmpeg decodes the same packets as the sequential decode, starting at a
packet the demuxer flags as a keyframe (nothing before it is needed), so the pixels
should be the sequential decode's. They are still checked against the fingerprints:
the first frame that differs turns the decoder off for the file and leaves it to
:class:`Decoder`.
"""

from __future__ import annotations

import os
import struct
import tempfile

import cv2
import numpy as np

from core.io.video.decode import Desync, FrameDecoder, Geometry, ReadStats
from core.io.video.index import VideoError, VideoInfo, frame_fingerprint, open_capture

INTRA_COST = 2  # an IntraDecoder read in frame decodes (~1 ms at 500 x 350, 7 at 1080p)
GOP_OVERHEAD = 2  # a GopDecoder fragment in frame decodes (demux, write, open: ~0.3 ms)
_RAW_SKIP = 32  # demuxing forward is ~2 us a packet, a demuxer seek 20-100 us
_GOP_MAX = 512  # frames a GopDecoder fragment holds at most (longer GOPs: a part)
_GOP_RUN = 128  # frames of a fragment that goes on where the last one ended, at most
_GOP_THREADS = 32  # fragments decoding this many frames or more get frame threading


class Packets:
    """The compressed packets of a scanned video, by frame index (demuxing only).

    A demux-only capture (``CAP_PROP_FORMAT = -1``) that knows which packet comes
    next: reading forward costs ~2 us a packet, so it seeks (cheap too: no decoding)
    only for a jump back or far ahead. Needs the scan's presentation times
    (``Geometry.pts_index``), which say which frame each packet is.
    """

    def __init__(self, info: VideoInfo, geometry: Geometry) -> None:
        if geometry.pts_index is None:
            raise ValueError("packets need unique presentation times")
        self.info = info
        self.geo = geometry
        self.cap: cv2.VideoCapture | None = open_capture(info.path, raw=True)
        self.next: int | None = 0

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None

    def fourcc(self) -> bytes:
        """The codec's four-character code as FFmpeg's AVI muxer would write it."""
        return (int(self.cap.get(cv2.CAP_PROP_FOURCC)) & 0xFFFFFFFF).to_bytes(4, "little")

    def extradata(self) -> bytes:
        """The codec's global header (mp4v: the VOL header; H.264: avcC), or b""."""
        index = int(self.cap.get(cv2.CAP_PROP_CODEC_EXTRADATA_INDEX))
        ok, data = self.cap.retrieve(flag=index)
        return data.tobytes() if ok and data is not None else b""

    def read(self, lo: int, hi: int, *, key: bool = False) -> list[np.ndarray]:
        """The packets of frames ``lo..hi`` as (1, N) uint8 arrays, in frame order.

        Raises :class:`Desync` when the file does not store them in that order (as
        B-frames do), when ``key`` and packet ``lo`` is not a keyframe, or when they
        cannot be found.
        """
        if self.cap is None:
            raise Desync("decoder closed")
        index = self.geo.pts_index
        for attempt in range(2):
            if attempt:  # the seek landed somewhere unknown or late: demux from the start
                self.cap.release()
                self.cap = open_capture(self.info.path, raw=True)
                self.next = 0
            elif self.next is None or not 0 <= lo - self.next <= _RAW_SKIP:
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, lo)
                self.next = None
            out: list[np.ndarray] = []
            while True:
                if not self.cap.grab():
                    raise Desync("end of data")
                k = index.get(float(self.cap.get(cv2.CAP_PROP_PTS)))
                self.next = None if k is None else k + 1
                if not out:
                    if k is None or k > lo:
                        break  # landed late
                    if k < lo:
                        continue
                    if key and not self.cap.get(cv2.CAP_PROP_LRF_HAS_KEY_FRAME):
                        raise Desync("not a keyframe")
                elif k != lo + len(out):
                    raise Desync("packets out of order")
                ok, packet = self.cap.retrieve()
                if not ok or packet is None:
                    raise Desync("no packet")
                out.append(packet)
                if k == hi:
                    return out
        raise Desync("packet not found")


class _TempFile:
    """A private temporary file, rewritten in place (no reopening: ~10 us, where
    ``open(path, "wb")`` costs ~0.25 ms on ext4)."""

    def __init__(self, suffix: str) -> None:
        self.fd, self.path = tempfile.mkstemp(prefix="layertune-frame-", suffix=suffix)

    def write(self, data: bytes | np.ndarray) -> None:
        """Make ``data`` (bytes, or a contiguous array's bytes) the file's contents."""
        view, done = memoryview(data).cast("B"), 0
        os.lseek(self.fd, 0, os.SEEK_SET)
        while done < len(view):
            done += os.write(self.fd, view[done:])
        os.ftruncate(self.fd, len(view))

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            try:
                os.unlink(self.path)
            except OSError:
                pass


def _chunk(tag: bytes, data: bytes) -> bytes:
    return tag + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1)


def _list(kind: bytes, body: bytes) -> bytes:
    return b"LIST" + struct.pack("<I", 4 + len(body)) + kind + body


def avi_file(packets: list[np.ndarray], fourcc: bytes, extradata: bytes, width: int,
             height: int) -> bytes:
    """A minimal AVI file holding one video stream of ``packets``, the first a keyframe.

    RIFF ``AVI `` with a ``hdrl`` list (main header; one stream: its header and a
    BITMAPINFOHEADER followed by ``extradata``), a ``movi`` list of ``00dc`` chunks
    and an ``idx1`` index. Frame ``j`` of the file has presentation time ``j``.

    Parameters
    ----------
    packets : list of ndarray
        Compressed frames as (1, N) uint8 arrays (as a demux-only capture gives them).
    fourcc : bytes
        The codec tag FFmpeg maps to the decoder (``FMP4``, ``h264``, ``VP80`` ...).
    extradata : bytes
        The codec's global header, b"" if none.
    width, height : int
        Frame size (some codecs take it from the container only).
    """
    sizes = [p.size for p in packets]
    n, biggest = len(packets), max(sizes, default=0)
    avih = struct.pack("<10I16x", 40000, 0, 0, 0x10, n, 0, 1, biggest, width, height)
    strh = struct.pack("<4s4sIHHIIIIIIiI4h", b"vids", fourcc, 0, 0, 0, 0, 1, 25, 0, n,
                       biggest, -1, 0, 0, 0, width, height)
    strf = struct.pack("<IiiHH4sIiiII", 40 + len(extradata), width, height, 1, 24, fourcc,
                       width * height * 3, 0, 0, 0, 0) + extradata
    hdrl = _list(b"hdrl", _chunk(b"avih", avih) + _list(
        b"strl", _chunk(b"strh", strh) + _chunk(b"strf", strf)))
    movi = [b"LIST", b"", b"movi"]
    index = bytearray()
    offset = 4  # chunk offsets count from the "movi" tag
    for j, (packet, size) in enumerate(zip(packets, sizes)):
        index += struct.pack("<4sIII", b"00dc", 0x10 if j == 0 else 0, offset, size)
        movi += [b"00dc", struct.pack("<I", size), packet, b"\0" * (size & 1)]
        offset += 8 + size + (size & 1)
    movi[1] = struct.pack("<I", offset)
    body = b"".join([b"AVI ", hdrl, *movi, _chunk(b"idx1", bytes(index))])
    return b"RIFF" + struct.pack("<I", len(body)) + body


class IntraDecoder:
    """Random access to an intra-only MJPEG video, one packet at a time.

    The packet of frame ``i`` (:class:`Packets`) is written to a private temporary
    ``.jpg`` and decoded by a fresh FFmpeg capture: about 1 ms at 500 x 350 where
    OpenCV's seek decodes 17 frames (~10 ms). Only the thread that owns it may use it.
    """

    def __init__(self, info: VideoInfo, geometry: Geometry, stats: ReadStats) -> None:
        self.info = info
        self.geo = geometry
        self.stats = stats
        self.packets: Packets | None = Packets(info, geometry)
        try:
            self.tmp = _TempFile(".jpg")
        except OSError:
            self.packets.close()
            raise

    @classmethod
    def probe(cls, info: VideoInfo, geometry: Geometry, stats: ReadStats
              ) -> IntraDecoder | None:
        """An IntraDecoder when every frame is a keyframe and packets are JPEG images."""
        if (info.kind != "video" or info.n_frames < 2 or geometry.pts_index is None
                or len(info.keyframes) != info.n_frames):
            return None
        try:
            cap = open_capture(info.path, raw=True)
        except VideoError:
            return None
        try:
            ok, packet = cap.read()
            if not ok or packet is None or bytes(packet.ravel()[:3]) != b"\xff\xd8\xff":
                return None
        finally:
            cap.release()
        try:
            return cls(info, geometry, stats)
        except (VideoError, OSError):  # e.g. no writable temporary folder
            return None

    def close(self) -> None:
        if self.packets is not None:
            self.packets.close()
            self.packets = None
            self.tmp.close()

    def read(self, i: int) -> np.ndarray:
        """Frame ``i`` as a new (H, W, 3) uint8 BGR array, checked against the scan."""
        if self.packets is None:
            raise Desync("decoder closed")
        self.tmp.write(self.packets.read(i, i)[0])
        cap = cv2.VideoCapture(self.tmp.path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        try:
            ok, bgr = cap.read()
        finally:
            cap.release()
        self.stats.intra += 1
        if not ok or bgr is None:
            raise Desync("no pixels")
        prints = self.info.fingerprints
        if prints and frame_fingerprint(bgr) != prints[i]:
            raise Desync("mismatch")
        return bgr


class GopDecoder(FrameDecoder):
    """Cold jumps decoded from the keyframe at or before the frame, not from ``i - 16``.

    To reach frame ``i`` it writes the packets of its GOP (from the keyframe ``k`` at
    or before ``i`` to the next keyframe, :data:`_GOP_MAX` frames at most) to a private
    temporary AVI file (:func:`avi_file`), opens a fresh FFmpeg capture on it (the
    *fragment*) and decodes ``i - k + 1`` frames, where OpenCV's seek decodes from the
    keyframe at or before ``i - 16``; it then stands on ``i + 1`` of the fragment, so
    steps forward through the GOP decode one frame each (and past its end, through a
    longer fragment: see :meth:`_seek`). Fragments of fewer than ``_GOP_THREADS``
    decodes are decoded on one thread (starting frame threads would cost more).

    Valid only where the packets are stored in presentation order (no B-frames) and
    decoding from a scan keyframe (a keyframe for the demuxer too) reproduces the
    sequential decode; :class:`Packets` raises :class:`Desync` for the former and the
    fingerprints catch the latter; the presentation time of each frame decoded is
    checked against its place in the fragment. The
    owner stops using it after any failure (see :meth:`probe`). Only the thread that
    owns it may use it.
    """

    def __init__(self, info: VideoInfo, geometry: Geometry, stats: ReadStats) -> None:
        self.info = info
        self.geo = geometry
        self.stats = stats
        self.cap = None
        self.next = None
        self.start = self.end = -1  # frames of the current fragment
        self.packets: Packets | None = Packets(info, geometry)
        try:
            self._fourcc = self.packets.fourcc()
            self._extradata = self.packets.extradata()
            self.tmp = _TempFile(".avi")
        except BaseException:
            self.packets.close()
            raise

    @classmethod
    def probe(cls, info: VideoInfo, geometry: Geometry, stats: ReadStats
              ) -> GopDecoder | None:
        """A GopDecoder when the file may allow one, else None.

        Checks what can be checked without decoding (unique presentation times, a codec
        tag, an OpenCV that exposes packets, extradata and keyframe flags); whether the
        packets are in order and decode to the scan's frames is found out on use, and
        the owner drops it on the first :class:`Desync`, ``cv2.error`` or ``OSError``.
        """
        if (info.kind != "video" or info.n_frames < 2 or geometry.pts_index is None
                or not hasattr(cv2, "CAP_PROP_CODEC_EXTRADATA_INDEX")
                or not hasattr(cv2, "CAP_PROP_LRF_HAS_KEY_FRAME")):
            return None
        try:
            gop = cls(info, geometry, stats)
        except (VideoError, OSError, cv2.error):  # e.g. no writable temporary folder
            return None
        if gop._fourcc == bytes(4):
            gop.close()
            return None
        return gop

    def close(self) -> None:
        self._release()
        if self.packets is not None:
            self.packets.close()
            self.packets = None
            self.tmp.close()

    def needs_seek(self, i: int) -> bool:
        nxt = self.next
        return nxt is None or not nxt <= i <= self.end

    def cost(self, i: int) -> int:
        if not self.needs_seek(i):
            return i - self.next + 1
        run = i - self.geo.key_before(i)
        # longer runs: OpenCV's seek decodes about as many frames (landing <= keyframe)
        return run + 1 + GOP_OVERHEAD if run < _GOP_MAX else 1 << 62

    def _release(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None
        self.next = None

    def _position(self, lo: int, attempt: int) -> None:
        if self.packets is None:
            raise Desync("decoder closed")
        if attempt or self.needs_seek(lo):
            self._seek(lo)

    def _seek(self, i: int) -> None:
        """Open the fragment of ``i``'s GOP; frame ``i`` is at most ``_GOP_MAX`` frames
        after its keyframe (:meth:`cost`).

        A reader going on from the end of the last fragment (stepping or playing
        forward) gets one twice as long, up to ``_GOP_RUN`` frames, whole GOPs: each
        fragment costs its writing and opening, ~0.3 ms.
        """
        going_on = self.next is not None and i == self.next == self.end + 1
        span = min(2 * (self.end - self.start + 1), _GOP_RUN) if going_on else 1
        self._release()
        k = self.geo.key_before(i)
        end = min(self.geo.key_after(max(i, k + span - 1)), k + _GOP_MAX) - 1
        packets = self.packets.read(k, end, key=True)
        self.tmp.write(avi_file(packets, self._fourcc, self._extradata, self.info.width,
                                self.info.height))
        threads = 1 if i - k < _GOP_THREADS else 0  # 0: OpenCV's frame threading
        self.cap = cv2.VideoCapture(self.tmp.path, cv2.CAP_FFMPEG,
                                    [cv2.CAP_PROP_N_THREADS, threads])
        self.stats.gop += 1
        if not self.cap.isOpened():
            self._release()
            raise Desync("fragment not opened")
        self.start, self.end, self.next = k, end, k

    def _grab(self) -> int:
        k = self.next
        if k is None or k > self.end or not self.cap.grab():
            raise Desync("end of data")
        self.stats.grabs += 1
        if self.cap.get(cv2.CAP_PROP_PTS) != k - self.start:  # frame j of a fragment: j
            self.next = None
            raise Desync("unknown position")
        self.next = k + 1
        return k
