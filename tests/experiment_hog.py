"""Test-only experiment: takes memory or CPU until a resource limit stops it."""
from __future__ import annotations

from experiments.params import Choice, Int

ID = "test-hog"
TITLE = "Hog"
SUMMARY = "Allocates memory without end, spins on the CPU, or reports the limits it runs under."
KIND = "threads"
NOTICE = "For tests."
PARAMS = (Int("workers", 1, 1, 1), Choice("what", "memory", ("memory", "cpu", "limits")))


def run(params, rec):
    if params["what"] == "memory":
        hoard = []
        while True:
            hoard.append(bytearray(16 * 1024 * 1024))
    if params["what"] == "cpu":
        while True:
            pass
    with open("/proc/self/limits") as f:
        limits = f.read()
    return {"limits": limits}
