"""Test-only experiment: takes memory or CPU until a resource limit stops it."""

from __future__ import annotations

from experiments.harness.params import Choice, Int

ID = "test-hog"
TITLE = "Hog"
SUMMARY = "Allocates memory or starts threads without end, spins on the CPU, or reports the limits it runs under."
KIND = "threads"
NOTICE = "For tests."
PARAMS = (Int("workers", 1, 1, 1), Choice("what", "memory", ("memory", "cpu", "threads", "limits")))


def run(params, rec):
    if params["what"] == "memory":
        hoard = []
        while True:
            hoard.append(bytearray(16 * 1024 * 1024))
    if params["what"] == "cpu":
        while True:
            pass
    if params["what"] == "threads":
        import threading

        never = threading.Event()
        started = 0
        while True:  # until starting one more fails
            try:
                threading.Thread(target=never.wait, daemon=True).start()
            except (RuntimeError, OSError) as exc:
                raise type(exc)(f"{exc} (after {started} threads)") from exc
            started += 1
    with open("/proc/self/limits") as f:
        limits = f.read()
    return {"limits": limits}
