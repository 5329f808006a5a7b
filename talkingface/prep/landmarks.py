"""68-point landmarks and the frame's JPEG, written as upstream's ``ori_imgs/<n>.jpg`` and ``<n>.lms``.

The landmark model is dlib's ``shape_predictor_68_face_landmarks.dat``, shipped by the face-recognition-models
package, so nothing is downloaded; its 68 points are the iBUG layout that face_alignment (upstream's choice) also
uses. The face box comes from ``check-input``'s track, so no frame is searched twice. Each file is written under a
temporary name and renamed, so a killed run leaves whole files only, and a rerun skips the frames already done.
"""

from __future__ import annotations

import errno
import os
from typing import Any, Optional

import numpy as np

JPEG_QUALITY = 95
_PREDICTOR: Any = None


def predictor() -> Any:
    global _PREDICTOR
    if _PREDICTOR is None:
        import dlib
        import face_recognition_models

        _PREDICTOR = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    return _PREDICTOR


def landmarks(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(68, 2) float points of the face in ``box`` (x0, y0, x1, y1)."""
    import dlib

    rect = dlib.rectangle(*(int(round(float(v))) for v in box))
    shape = predictor()(gray, rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def lms_text(points: np.ndarray) -> str:
    # np.savetxt(path, points, "%f"), as upstream writes them.
    return "".join(f"{x:f} {y:f}\n" for x, y in points)


def _write(path: str, data: bytes) -> None:
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.partial-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as exc:
        # A write that fills the disk says nothing of where; the one-line error names the file (and so the disk).
        if exc.errno == errno.ENOSPC and not exc.filename:
            raise OSError(exc.errno, exc.strerror, path) from exc
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def done(out_dir: str, frame: int) -> bool:
    return os.path.exists(os.path.join(out_dir, f"{frame}.jpg")) and os.path.exists(
        os.path.join(out_dir, f"{frame}.lms")
    )


def mark_range(
    video: str, start: int, boxes: np.ndarray, out_dir: str, skip: Optional[np.ndarray], size: int, fps: int
) -> int:
    """Decode frames ``start`` .. ``start + len(boxes)`` of ``video`` here, in the worker, and mark them.

    Each worker seeks and decodes its own range: sending decoded frames from one reader to the workers would move
    0.8 MB per frame through pipes twice. The normalized video has a keyframe every 2 s, so a seek is cheap.
    """
    from .decode import batches

    count = len(boxes)
    done = 0
    written = 0
    for _, frames in batches(
        video, filters="format=bgr24", width=size, height=size, pix_fmt="bgr24", batch=50,
        start=start / fps, frames=count, threads=1,
    ):  # fmt: skip
        part = slice(done, done + len(frames))
        written += mark_chunk(start + done, frames, boxes[part], out_dir, None if skip is None else skip[part])
        done += len(frames)
    if done != count:
        raise RuntimeError(f"{video}: frames {start}-{start + count - 1} decoded {done} frames, not {count}")
    return written


def mark_chunk(start: int, frames: np.ndarray, boxes: np.ndarray, out_dir: str, skip: Optional[np.ndarray]) -> int:
    """Write jpg and lms for ``frames`` (n, H, W, 3) BGR, numbered from ``start``; returns the frames written."""
    import cv2

    written = 0
    for i, frame in enumerate(frames):
        if skip is not None and skip[i]:
            continue
        number = start + i
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        points = landmarks(gray, boxes[i])
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for frame {number}")
        _write(os.path.join(out_dir, f"{number}.jpg"), jpeg.tobytes())
        # The .lms last: a frame counts as done when both exist.
        _write(os.path.join(out_dir, f"{number}.lms"), lms_text(points).encode())
        written += 1
    return written
