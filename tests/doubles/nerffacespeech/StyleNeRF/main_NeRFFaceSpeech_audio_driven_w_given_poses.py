#!/usr/bin/env python3
"""Test double for StyleNeRF/main_NeRFFaceSpeech_audio_driven_w_given_poses.py @ 8f025a1: see _nffs_double.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _nffs_double  # noqa: E402

if __name__ == "__main__":
    _nffs_double.main(__file__, "w_given_poses")
