"""Helpers for the tests of recorded locks: what Python a call runs, and a lock held while another thread waits."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager


def python_calls(fn: Callable[[], object]) -> list[str]:
    """Names of the Python functions `fn()` calls (through sys.setprofile): [] when all it runs is C."""
    calls: list[str] = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code is not fn.__code__:
            calls.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


def hold_while_another_waits(lock: AbstractContextManager[object], inside: Callable[[], object] = lambda: None) -> None:
    """Thread "holder" holds `lock` until thread "waiter" comes to it, then 30 ms more: the waiter waits for
    it meanwhile, then runs `inside()` holding it."""
    holding, coming = threading.Event(), threading.Event()

    def holder():
        with lock:
            holding.set()
            coming.wait()  # the waiter is at the lock: from here on it waits
            threading.Event().wait(0.03)  # how long it waits

    def waiter():
        holding.wait()
        coming.set()
        with lock:
            inside()

    threads = [threading.Thread(target=holder, name="holder"), threading.Thread(target=waiter, name="waiter")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
