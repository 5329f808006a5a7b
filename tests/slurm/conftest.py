"""The `slurm` fixture: one real single-node Slurm cluster for the whole session, always stopped afterwards."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.slurm_cluster import LocalSlurm, slurm_available


@pytest.fixture(scope="session")
def slurm() -> Iterator[LocalSlurm]:
    reason = slurm_available()
    if reason:
        pytest.skip(f"no local Slurm cluster: {reason} -- fix: make slurm-tools (as root; Debian's slurm-wlm, munge)")
    cluster = LocalSlurm()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
    # stop() raises on leftovers itself; this says so again in the session's own words, whatever stop() checked.
    left = cluster.leftovers()
    assert not left, f"processes of the test cluster still running after the session: {left}"
    assert not cluster.root.exists(), f"the test cluster's folder is still there: {cluster.root}"
