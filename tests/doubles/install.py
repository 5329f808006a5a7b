"""Lay out an image's folders in a directory, with the doubles as the upstream tree: the tests and `make demo` use it.

python tests/doubles/install.py MODEL ROOT   # prints the environment to export
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

REPO = Path(__file__).resolve().parents[2]
DOUBLES = REPO / "tests" / "doubles"

SEED_GENEFACE_RELEASES = """
import sys
from pathlib import Path
import _geneface_double as gd
out = Path(sys.argv[1])
for name in ("lm3d_vae_sync", "syncnet"):
    gd.write_ckpt(str(out / "lrs3" / name / "model_ckpt_steps_40000.ckpt"), 40000)
hp = gd.load_config_chain("egs/datasets/videos.orig/May/lm3d_postnet_sync.yaml")
hp["work_dir"] = "checkpoints/May/lm3d_postnet_sync"
postnet = out / "May" / "lm3d_postnet_sync"
gd.write_ckpt(str(postnet / "model_ckpt_steps_4000.ckpt"), 4000)
(postnet / "config.yaml").write_text(gd.dump_yaml(hp))
"""


def install(model: str, root: Path) -> Dict[str, str]:
    """Create upstream/, workspace/, input/, bfm_models/ and weights/ under ``root``; return the entrypoint's env."""
    upstream = root / "upstream" / model
    shutil.copytree(DOUBLES / model, upstream, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("workspace", "input", "bfm_models", "weights", "bin"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    (root / "bfm_models" / "01_MorphableModel.mat").write_bytes(b"MATLAB 5.0 MAT-file placeholder")
    # Upstream shells out to `python`; point it at this interpreter. A script, not a link: a link to a venv's
    # python runs outside the venv, without its packages.
    python = root / "bin" / "python"
    if not python.exists():
        python.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} "$@"\n', encoding="utf-8")
        python.chmod(0o755)
    env = dict(os.environ)
    env.update(
        TALKINGFACE_MODEL=model,
        TALKINGFACE_WORKSPACE=str(root / "workspace"),
        TALKINGFACE_INPUTS=str(root / "input"),
        TALKINGFACE_BFM=str(root / "bfm_models"),
        TALKINGFACE_WEIGHTS=str(root / "weights"),
        TALKINGFACE_UPSTREAM=str(root / "upstream"),
        PYTHONPATH=os.pathsep.join([str(REPO), str(DOUBLES)]),
        PATH=os.pathsep.join([str(root / "bin"), env.get("PATH", "")]),
        FAKE_UPSTREAM_LOG=str(root / "calls.jsonl"),
        TEST_MODE="",
    )
    subprocess.run(
        [sys.executable, "-m", "talkingface.core.image_setup", model, str(upstream)],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    sys.path.insert(0, str(REPO))
    from talkingface.adapters import get_adapter

    for relative in get_adapter(model).weight_files:
        target = root / "weights" / model / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"placeholder weight")
    if model == "geneface":
        child_env = dict(env, PYTHONPATH=os.pathsep.join([str(upstream), env["PYTHONPATH"]]))
        out = root / "weights" / "geneface" / "checkpoints"
        subprocess.run(
            [sys.executable, "-c", SEED_GENEFACE_RELEASES, str(out)], cwd=upstream, env=child_env, check=True
        )
    # The rest of what the manifest lists, so the entrypoint's weights check passes; the doubles never read them.
    from talkingface.weights.manifest import load_manifest

    for relative in load_manifest().paths([model]):
        target = root / "weights" / relative
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"placeholder weight")
    return env


if __name__ == "__main__":
    for key, value in install(sys.argv[1], Path(sys.argv[2]).resolve()).items():
        if key.startswith(("TALKINGFACE_", "FAKE_")) or key in ("PYTHONPATH", "PATH"):
            print(f"export {key}={value!r}")
