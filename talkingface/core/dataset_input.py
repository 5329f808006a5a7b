"""Which video a dataset was made from: recorded by ``check-input``, checked before any step of a later run.

Without it, a second video given the same task (two files whose names fold to one task, or the same --task twice)
silently replaced parts of the first one's dataset, leaving it mixed, and the run reported success.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

from .content_hashes import ContentHashes
from .errors import TalkingfaceError

RECORD = "input.json"
# check-input's crop of every frame in the source's pixels: what paste-back needs to put a render back.
CROP_BOXES = "crop_boxes.csv"


def fingerprint(video: str, given: str) -> Dict[str, Any]:
    """What identifies the input: its content, and the path the user gave, to name it in a refusal."""
    return {"given": given, "size": os.path.getsize(video), "sha256": ContentHashes().digest(video)}


def recorded(data_dir: str) -> Optional[Dict[str, Any]]:
    """The dataset's recorded input; None when there is none (a new task, or a dataset older than the record)."""
    try:
        with open(os.path.join(data_dir, RECORD), encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("sha256") else None


def check_same_input(task: str, data_dir: str, video: str, given: str) -> None:
    """Refuse a video other than the one ``data_dir`` was made from; only reads."""
    record = recorded(data_dir)
    if record is None:
        return
    try:
        size = os.path.getsize(video)
    except OSError:
        return  # the input checks name a missing video
    # The size settles most differences without reading the whole video.
    if size == record.get("size") and ContentHashes().digest(video) == record["sha256"]:
        return
    original = record.get("given") or record.get("source") or "another video"
    raise TalkingfaceError(
        f"task {task} was made from {original}, and {given} is a different video (dataset: {data_dir})",
        fix=f"pass --task NAME to make a new task of {given}, or --force to rebuild task {task} from it",
    )
