"""Make the links an image needs inside its upstream tree: ``python -m talkingface.core.image_setup MODEL ROOT``.

Upstream reads and writes fixed paths inside its own tree (the BFM, its converted form, GeneFace's data and
checkpoints). The image is read-only for the user who runs it, so those paths become links into the mounted
BFM folder and the workspace. The image build and the tests call this same code.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from typing import List, Optional

from ..adapters import get_adapter
from .layout import ContainerRoots


def link_tree(model: str, root: str, roots: ContainerRoots) -> List[str]:
    made = []
    for relative, target in sorted(get_adapter(model).image_links(roots).items()):
        link = os.path.join(root, relative)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.islink(link) or os.path.isfile(link):
            os.unlink(link)
        elif os.path.isdir(link):
            # Its content stays beside the link (GeneFace's May configs become the template for new videos).
            # shutil.move, not rename: overlay filesystems refuse to rename a folder from a lower layer (EXDEV).
            shutil.move(link, link + ".orig")
        os.symlink(target, link)
        made.append(f"{relative} -> {target}")
    return made


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m talkingface.core.image_setup")
    parser.add_argument("model")
    parser.add_argument("root", help="the upstream tree")
    args = parser.parse_args(argv)
    for line in link_tree(args.model, args.root, ContainerRoots.from_env()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
