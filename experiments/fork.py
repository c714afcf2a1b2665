"""The tutorial's os.fork(): one program, two processes from the same line on."""
from __future__ import annotations

import os

from experiments.harness.blocking import sleep
from experiments.harness.params import Int

ID = "fork"
TITLE = "os.fork: parent and child"
SUMMARY = "os.fork() returns twice: 0 in the new child process, the child's pid in the parent."
KIND = "processes"
NOTICE = (
    "After os.fork() there are two processes running the same code: the lane \"pid N\" is "
    "the child, a copy of the parent with its own pid (compare the printed pids). The two "
    "branches of `if pid == 0` run at the same time, one in each process. The parent prints "
    "at once, then blocks in os.waitpid until the child has slept and exited. The child "
    "has to leave with os._exit(): returning would make it carry on through the rest of "
    "the parent's program."
)
EXPECTED = "Two lanes with different pids; the parent's os.waitpid ends just after the child's last print."
PARAMS = (
    Int("sleep_ms", 2000, 10, 5000, "how long the child sleeps (the tutorial: 2000)"),
)


def child_process(rec, seconds):
    print(f"Child process: {os.getpid()}, Parent: {os.getppid()}")
    sleep(rec, seconds)
    print("Child process completed")


def run(params, rec):
    print(f"Main process: {os.getpid()}")

    pid = os.fork()

    if pid == 0:
        exit_code = 1
        try:
            child_process(rec, params["sleep_ms"] / 1000)
            exit_code = 0
        finally:
            # The child must not return into the runner (it would run the rest of it a
            # second time) nor lose what it recorded: flush, then leave at once.
            rec.flush()
            os._exit(exit_code)
    else:
        print(f"Created child process with PID: {pid}")
        with rec.activity("os.waitpid", "wait"):
            _, status = os.waitpid(pid, 0)  # Wait for child to complete
        print("Main process completed")
    return {"parent_pid": os.getpid(), "child_pid": pid, "child_exit_code": os.waitstatus_to_exitcode(status)}


def findings(params, result, python):
    """What this run showed: two pids, and how the child ended."""
    code = result["child_exit_code"]
    said = [f"os.fork() returned {result['child_pid']} in the parent (pid {result['parent_pid']}) and 0 in the child, "
            f"a process of its own with pid {result['child_pid']}."]
    said.append("The parent's os.waitpid returned once the child had exited, with exit code 0." if code == 0 else
                f"The child exited with code {code}, not 0: it failed (see its lane and the output).")
    return said


def verdict(params, result, python):
    """The lesson, judged by the two pids and the child's exit code."""
    parent, child, code = result["parent_pid"], result["child_pid"], result["child_exit_code"]
    if child != parent and code == 0:
        return True, f"Two processes ran the same code: parent {parent}, child {child}, which exited with 0."
    return False, f"The child (pid {child}) exited with code {code}: see its lane and the output."
