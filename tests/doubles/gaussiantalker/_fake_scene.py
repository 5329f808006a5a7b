"""Double-internal helper (no upstream counterpart): what GaussianTalker @ 8ec613b's scene
reader (scene/talking_dataset_readers.py, scene/dataset.py) needs from ``-s`` and from the
model folder, checked the way upstream would fail, without torch.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import struct


def npy_shape(path: str) -> tuple:
    with open(path, "rb") as fh:
        if fh.read(6) != b"\x93NUMPY":
            raise ValueError(f"Cannot load file containing pickled data: {path}")
        major = fh.read(2)[0]
        size = struct.unpack("<H" if major == 1 else "<I", fh.read(2 if major == 1 else 4))[0]
        header = ast.literal_eval(fh.read(size).decode("latin1"))
    return tuple(header["shape"])


def _load_feats(path: str) -> int:
    shape = npy_shape(path)  # FileNotFoundError when missing, as np.load
    if len(shape) != 3:
        raise NotImplementedError(f"[ERROR] aud_features.shape {shape} not supported")
    return shape[0]


def _au_rows(path: str) -> int:
    with open(path, newline="") as fh:  # pd.read_csv: FileNotFoundError when missing
        rows = list(csv.reader(fh))
    if not rows or " AU45_r" not in rows[0]:
        raise KeyError(" AU45_r")
    return len(rows) - 1


class Dataset:
    """The reader's view of a dataset folder (upstream: readTalkingPortraitDatasetInfo)."""

    def __init__(self, path: str, custom_aud: str | None = None):
        self.path = path
        self.n_aud = _load_feats(os.path.join(path, "aud_ds.npy"))
        au_rows = _au_rows(os.path.join(path, "au.csv"))
        self.train = self._frames("transforms_train.json")
        self.val = self._frames("transforms_val.json")
        with open(os.path.join(path, "transforms_val.json")) as fh:
            meta = json.load(fh)
        self.width, self.height = int(meta["cx"] * 2), int(meta["cy"] * 2)
        for name in ("track_params.pt", "bc.jpg"):
            if not os.path.isfile(os.path.join(path, name)):
                raise FileNotFoundError(f"[double] {name} missing in {path}")
        for frame in self.train + self.val:
            img_id = frame["img_id"]
            frame["aud_id"]  # KeyError as upstream when missing
            lms = os.path.join(path, "ori_imgs", f"{img_id}.lms")
            if not os.path.isfile(lms):
                raise OSError(f"{lms} not found.")
            if not 0 <= img_id < au_rows and not -au_rows <= img_id < 0:
                raise IndexError(f"index {img_id} is out of bounds for axis 0 with size {au_rows}")
        self.n_custom = None
        if custom_aud:
            self.n_custom = _load_feats(os.path.join(path, custom_aud))
        if os.path.exists(os.path.join(path, "fused.ply")):
            raise NotImplementedError("No ply file found!")
        if not self.train:
            raise ValueError("need at least one array to concatenate")  # getNerfppNorm on no cameras

    def _frames(self, name: str) -> list[dict]:
        with open(os.path.join(self.path, name)) as fh:
            meta = json.load(fh)
        meta["focal_len"], meta["cx"], meta["cy"]  # KeyError as upstream when missing
        return meta["frames"]

    def check_images(self, frames: list[dict]) -> None:
        """The per-frame images the DataLoader opens (scene/dataset.py FourDGSdataset.__getitem__)."""
        for frame in frames:
            i = frame["img_id"]
            for rel in (f"ori_imgs/{i}.jpg", f"torso_imgs/{i}.png", f"parsing/{i}.png"):
                if not os.path.isfile(os.path.join(self.path, rel)):
                    raise TypeError(f"[double] cv2.imread returned None for {rel}")


def window_rows(index: int, n_feats: int) -> int:
    """Rows of the 8-frame audio window for frame ``index`` (scene/utils.get_audio_features, att_mode 2)."""
    left, right = index - 4, index + 4
    pad_left = -left if left < 0 else 0
    left = max(left, 0)
    pad_right = right - n_feats if right > n_feats else 0
    right = min(right, n_feats)
    rows = max(0, right - left)
    got = rows
    if pad_left:
        got += min(pad_left, rows)  # zeros_like(auds[:pad_left])
    if pad_right:
        got += min(pad_right, got)  # zeros_like(auds[:pad_right]) after the left pad
    return got
