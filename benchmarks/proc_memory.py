"""Resident memory of a process and all its descendants, read from /proc (Linux)."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Dict, List


def tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and all its descendants."""
    children: Dict[int, List[int]] = {}
    rss: Dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            parent, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += children.get(pid, [])
    return total


def measure(command: List[str], env: Dict[str, str], *, every_s: float = 0.2) -> Dict[str, float]:
    """Run ``command``; its wall time and the peak of its process tree's resident memory, sampled every ``every_s``.

    Sampling walks all of /proc, so it is kept to 5 times a second: more often, it competes with what it measures.
    """
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while child.poll() is None:
        peak = max(peak, tree_rss(child.pid))
        time.sleep(every_s)
    if child.returncode != 0:
        raise SystemExit(f"{command[:4]} failed: {child.stderr.read()[-2000:] if child.stderr else ''}")
    return {"seconds": time.perf_counter() - start, "peak_gb": peak / 1e9}
