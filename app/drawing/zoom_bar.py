"""The zoom bar of a run's timeline: where the drawn window sits in the whole run, and the windows its
links lead to (zoom in and out about the middle, pan by half). Pure. The links' URLs are the web's
(app/web/urls.py `run_window`).
"""

from __future__ import annotations

from dataclasses import dataclass


def ms_param(ns: int) -> str:
    """A time in ms, to the ns, without trailing zeros: as a URL's from_ms/to_ms and as the bar says it."""
    return f"{ns / 1e6:.6f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class ZoomBar:
    """Where the drawn window sits in the whole run, and the windows its links lead to."""

    run_id: str
    from_ns: int
    to_ns: int
    run_ns: int  # the whole run's axis
    zoomed: bool
    note: str = ""  # why a zoomed window is drawn coarser than its resolution, if it is

    @property
    def overview(self) -> tuple[float, float]:
        """The window in the overview strip: x and width in percent of the whole run's axis."""
        whole = max(self.run_ns, self.to_ns)
        return round(100 * self.from_ns / whole, 3), round(max(0.5, 100 * (self.to_ns - self.from_ns) / whole), 3)

    def window(self, from_ns: int, to_ns: int) -> tuple[int, int] | None:
        """The window a link leads to, within bounds; None: the whole run."""
        from_ns, to_ns = max(0, from_ns), min(to_ns, 10**15)
        if from_ns <= 0 and to_ns >= self.run_ns:
            return None
        return from_ns, to_ns

    def links(self) -> dict[str, tuple[int, int] | None]:
        """Zoom in and out about the middle, and pan by half the window: plain links, no script needed
        (each link's window, app/web/urls.py `run` makes it a URL)."""
        width, middle = self.to_ns - self.from_ns, (self.from_ns + self.to_ns) // 2
        wider = min(2 * width, max(self.run_ns, self.to_ns))
        start = min(max(0, middle - wider // 2), max(self.run_ns, self.to_ns) - wider)
        return {
            "in": self.window(middle - width // 4, middle - width // 4 + max(width // 2, 1_000)),
            "out": self.window(start, start + wider),
            "earlier": self.window(max(0, self.from_ns - width // 2), max(0, self.from_ns - width // 2) + width),
            "later": self.window(self.from_ns + width // 2, self.to_ns + width // 2),
        }

    @property
    def range_words(self) -> str:
        return f"{ms_param(self.from_ns)}–{ms_param(self.to_ns)} ms"
