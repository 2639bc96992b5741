"""Test videos with a known sequential decode, for the video tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path, fourcc: str, n: int, size: tuple[int, int], seed: int = 0) -> bool:
    """A pan over a random texture with the frame number drawn: every frame differs."""
    h, w = size
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.integers(0, 256, (2 * h, 2 * w, 3), dtype=np.uint8), (0, 0), 2)
    tex = cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 25.0, (w, h))
    if not writer.isOpened():
        return False
    for i in range(n):
        y, x = int(h / 2 + h / 2 * np.sin(i / 9)), int(w / 2 + w / 2 * np.cos(i / 13))
        frame = tex[y:y + h, x:x + w].copy()
        cv2.putText(frame, str(i), (4, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        writer.write(frame)
    writer.release()
    return True


def sequential(path: Path) -> list[np.ndarray]:
    """The ground truth: a plain OpenCV read loop, converted to RGB."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames
