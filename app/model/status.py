"""A run's status: where it is in its life, in words, and why spans still open when it ended never ended.

A `str` enum: each status is its own word as the JSON API, the database and the templates spell it
(`Status.TIMED_OUT == "timed_out"`), so a status read back from SQLite as a plain string compares,
hashes and serialises as the member does."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    HUNG = "hung"
    INTERRUPTED = "interrupted"  # the server stopped while it was queued or ran

    @property
    def finished(self) -> bool:
        """Whether the run has ended (however it ended): it will change no more."""
        return self not in (Status.QUEUED, Status.RUNNING)

    @property
    def words(self) -> str:
        """How a page says it."""
        return _WORDS.get(self, self.value)

    @property
    def cut_why(self) -> str:
        """Why a span still open when a run ended with this status never ended."""
        return _CUT_WHY.get(self, "never ended")


_WORDS = {Status.TIMED_OUT: "timed out"}
# In a run that is done, the interpreter exited under it: a daemon thread (or a pool's worker) killed at exit.
_CUT_WHY = {
    Status.DONE: "killed at exit",
    Status.FAILED: "never ended (the run failed)",
    Status.CANCELLED: "never ended (the run was cancelled)",
    Status.TIMED_OUT: "never ended (the run timed out)",
    Status.HUNG: "never ended (the run hung)",
    Status.INTERRUPTED: "never ended (the server stopped)",
}

FINISHED = tuple(status for status in Status if status.finished)


def status_words(status: str) -> str:
    """A status read back as a plain string (a database row's) in words; one this server does not know, as it is."""
    try:
        return Status(status).words
    except ValueError:  # expected: a row some other version of the server wrote
        return status
