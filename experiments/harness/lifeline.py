"""The runner dies with the server: its whole process group is killed once the server is gone. Stdlib only.

The server (app/running/runners.py) hands each runner the read end of a pipe whose write end only the
server holds (`LAB_LIFELINE_FD`). However the server ends (SIGKILL and crashes included), the
kernel closes its end, and a read on ours returns EOF: the runner then SIGKILLs its own process
group, so no experiment process outlives the server. The server also closes it once a run is over,
after killing the group itself. A blocked read costs nothing while the run goes on: no polling.

The watcher is a raw `_thread`, not a threading.Thread: it must not appear in threading.enumerate()
or active_count() (experiments show those), nor be joined at exit; it does not survive a fork.
"""
from __future__ import annotations

import _thread
import os
import signal

ENV = "LAB_LIFELINE_FD"


def hold() -> bool:
    """Watch the lifeline the server passed, if any; True if there is one."""
    value = os.environ.pop(ENV, None)  # not for the processes the experiment starts
    if not value:
        return False
    _thread.start_new_thread(_watch, (int(value),))
    return True


def _watch(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 1):  # EOF: every holder of the write end (the server) is gone
                break
        except InterruptedError:
            continue
        except OSError:
            break
    os.killpg(os.getpgrp(), signal.SIGKILL)
