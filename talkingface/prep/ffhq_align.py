"""Align a face as the FFHQ dataset was aligned, from our own 68-point landmarks (dlib's, as FFHQ used).

FFHQ's published recipe (NVlabs/ffhq-dataset, ``recreate_aligned_images``) takes the eyes' and the mouth corners'
mean positions and builds an oriented square around them: its x axis along the eye line, corrected by the
eye-to-mouth direction; its half-size the larger of twice the eye distance and 1.8 times the eye-to-mouth
distance; its centre a tenth of the way from the eyes to the mouth. That square is mapped onto the output image.

Here the square is mapped with one affine warp (reflected borders where it leaves the photo), and the 2x3 matrix is
saved, so a result can be put back where the face was in the photo. FFHQ's recipe also shrinks, crops and blurs
its reflected padding before the final resample; those change how the border looks, not where the face lands.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..core.atomic import replacing
from ..core.errors import TalkingfaceError

# The aligned face must come from a photo at least this large: smaller ones are upsampled past recognition.
MIN_SIDE = 256
# Faces are searched in a copy scaled to this longest side: dlib's HOG takes seconds on a 4000 px photo.
DETECT_SIDE = 1024


@dataclass(frozen=True)
class Alignment:
    quad: np.ndarray  # (4, 2) corners in the photo: top-left, bottom-left, bottom-right, top-right
    size: int

    @property
    def matrix(self) -> np.ndarray:
        """2x3 affine matrix from photo pixels to aligned pixels."""
        import cv2

        source = self.quad[[0, 1, 3]].astype(np.float32)
        target = np.float32([[0, 0], [0, self.size], [self.size, 0]])
        return cv2.getAffineTransform(source, target)

    def record(self, source: str, width: int, height: int) -> Dict[str, Any]:
        matrix = self.matrix
        inverse = np.vstack([matrix, [0, 0, 1]])
        return {
            "recipe": "FFHQ (NVlabs/ffhq-dataset) from dlib's 68 landmarks",
            "source": source,
            "source_size": [width, height],
            "size": self.size,
            "quad": self.quad.round(3).tolist(),
            "photo_to_aligned": matrix.round(8).tolist(),
            "aligned_to_photo": np.linalg.inv(inverse)[:2].round(8).tolist(),
        }


def quad_from_landmarks(points: np.ndarray) -> np.ndarray:
    """FFHQ's oriented square from the 68 points (iBUG layout)."""
    eye_left = points[36:42].mean(axis=0)
    eye_right = points[42:48].mean(axis=0)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    mouth_avg = (points[48] + points[54]) / 2
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x = x / np.hypot(*x)
    x = x * max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = np.flipud(x) * [-1, 1]
    centre = eye_avg + eye_to_mouth * 0.1
    return np.stack([centre - x - y, centre - x + y, centre + x + y, centre + x - y])


def find_one_face(rgb: np.ndarray, what: str) -> np.ndarray:
    """The 68 landmarks of the one face in ``rgb``; a clear error for none or several."""
    import cv2

    from .face_detect import find_all
    from .landmarks import landmarks

    height, width = rgb.shape[:2]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    scale = min(1.0, DETECT_SIDE / max(height, width))
    small = cv2.resize(gray, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    faces = find_all(small)
    if not faces:
        raise TalkingfaceError(
            f"no face found in {what}",
            fix="pass a photo where one face is clearly visible, facing the camera, at least 100 px wide",
            exit_code=1,
        )
    if len(faces) > 1:
        raise TalkingfaceError(
            f"{len(faces)} faces found in {what}; one is animated",
            fix="crop the photo to the one person to animate",
            exit_code=1,
        )
    box = np.array(faces[0]) / scale
    return landmarks(gray, box)


def align(rgb: np.ndarray, points: np.ndarray, size: int) -> tuple:
    import cv2

    found = Alignment(quad=quad_from_landmarks(points), size=size)
    aligned = cv2.warpAffine(rgb, found.matrix, (size, size), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT)
    return found, aligned


def read_photo(path: str) -> np.ndarray:
    import cv2

    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise TalkingfaceError(f"cannot read {path} as an image", fix="pass a PNG or JPEG photo", exit_code=1)
    height, width = bgr.shape[:2]
    if min(height, width) < MIN_SIDE:
        raise TalkingfaceError(
            f"the photo {path} is {width}x{height} px, smaller than {MIN_SIDE} px",
            fix=f"pass a photo at least {MIN_SIDE} px on its shorter side (a larger one keeps more detail)",
            exit_code=1,
        )
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def write_png(path: str, rgb: np.ndarray) -> None:
    import cv2

    with replacing(path, suffix=".png") as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
            raise TalkingfaceError(f"cannot write {path}", fix="check the workspace is writable", exit_code=1)


def write_json(path: str, record: Dict[str, Any]) -> None:
    with replacing(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def align_photo(src: str, out: str, transform: str, size: int) -> Dict[str, Any]:
    rgb = read_photo(src)
    points = find_one_face(rgb, f"the photo {src}")
    found, aligned = align(rgb, points, size)
    record = found.record(os.path.basename(src), rgb.shape[1], rgb.shape[0])
    write_png(out, aligned)
    write_json(transform, record)
    return record


def align_frames(frames: Sequence[np.ndarray], folder: str, size: int, what: str) -> Optional[Alignment]:
    """Every frame cropped by the first frame's alignment: one fixed crop keeps the head's motion in the frames."""
    found: Optional[Alignment] = None
    for index, rgb in enumerate(frames):
        if found is None:
            found, _ = align(rgb, find_one_face(rgb, f"the first frame of {what}"), size)
        import cv2

        crop = cv2.warpAffine(rgb, found.matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        write_png(os.path.join(folder, f"{index + 1:05d}.png"), crop)
    return found


def names(folder: str) -> List[str]:
    return sorted(n for n in os.listdir(folder) if n.endswith(".png")) if os.path.isdir(folder) else []
