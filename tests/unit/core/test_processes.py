"""`coupadl.processes`: a process is the same one only with the same PID and create time, and not a zombie."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from coupadl.browser.processes import TrackedProcess
from coupadl.processes import CREATE_TIME_TOLERANCE_S, ProcessIdentity, pid_running

BEYOND_PID_MAX = 2**22 + 1  # never a running process on Linux


def test_this_process_is_alive_under_its_identity() -> None:
    me = ProcessIdentity.current()
    assert ProcessIdentity.of(me.pid) is not None
    assert me.is_alive() and me.process() is not None and pid_running(me.pid)


def test_same_pid_with_another_create_time_is_someone_else() -> None:
    me = ProcessIdentity.current()
    impostor = ProcessIdentity(me.pid, me.create_time - 10 * CREATE_TIME_TOLERANCE_S)
    assert not impostor.is_alive() and impostor.process() is None


def test_an_ended_process_is_gone_and_a_zombie_is_not_running() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = ProcessIdentity.of(child.pid)
    assert identity is not None
    deadline = time.monotonic() + 10
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:  # ended, not yet reaped
        assert time.monotonic() < deadline, "the child did not end"
        time.sleep(0.01)
    assert not identity.is_alive() and identity.process() is None and not pid_running(child.pid)
    child.wait()
    assert not identity.is_alive() and ProcessIdentity.of(child.pid) is None


def test_unknown_pids() -> None:
    assert ProcessIdentity.of(None) is None and ProcessIdentity.of(BEYOND_PID_MAX) is None
    assert not ProcessIdentity(BEYOND_PID_MAX, 0.0).is_alive()
    assert not pid_running(BEYOND_PID_MAX)


def test_a_tracked_process_is_a_process_identity_with_a_role() -> None:
    tracked = TrackedProcess.of(ProcessIdentity.current().pid, "worker")
    assert isinstance(tracked, ProcessIdentity) and tracked.role == "worker" and tracked.is_alive()
    assert TrackedProcess.of(BEYOND_PID_MAX, "browser") is None


def test_a_tree_is_every_descendant_of_each_tracked_process_once() -> None:
    from coupadl.browser.processes import tree_processes

    script = "sleep 30 & sleep 30 & (sleep 30 & wait) & wait"  # children and a grandchild
    shells = [subprocess.Popen(["/bin/sh", "-c", script]) for _ in range(2)]
    try:
        tracked = [TrackedProcess.of(p.pid, "driver") for p in shells]

        def expected() -> set[int]:
            return {p.pid for p in shells} | {
                c.pid for p in shells for c in psutil.Process(p.pid).children(recursive=True)
            }

        deadline = time.monotonic() + 10
        while len(expected()) < 2 + 2 * 4 and time.monotonic() < deadline:  # each: 3 sleeps and 1 sub-shell
            time.sleep(0.05)
        found = tree_processes([*tracked, tracked[0], None])  # a duplicate and a gap are fine
        assert sorted(p.pid for p in found) == sorted(expected())
        assert len(expected()) == 10
    finally:
        for p in shells:
            for child in psutil.Process(p.pid).children(recursive=True):
                child.kill()
            p.kill()
            p.wait()
