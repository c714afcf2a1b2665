"""The tutorial's fibonacci, for subinterpreters to import: each interpreter of a pool imports the module of the
function it is handed, so it is kept apart from the experiment (with its pools, its recorder and multiprocessing,
which would cost every new interpreter about 0.15 s to import)."""
import threading
import time


def fibonacci(n):
    if n <= 1:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)


def timed_fibonacci(n):
    """fibonacci(n), with when it ran and on which thread: the main interpreter draws its span from these."""
    start = time.monotonic_ns()
    value = fibonacci(n)
    return value, start, time.monotonic_ns(), threading.get_native_id()
