"""A lane's on-CPU turns as drawn: bins of the timeline's resolution, each as full as the time the lane was on
a CPU in it (app/model/timeline.py feeds it the sampler's turns, in time order, and draws what it returns).
Pure."""

from __future__ import annotations

MIXED_CPUS = -2  # an on-CPU span merged from turns on several CPUs


class CpuBins:
    """A lane's on-CPU intervals as drawn: bins of the resolution, each as full as the time it was on a CPU.

    Without coalescing (resolution 0) each interval is drawn as it came. With it, time is cut
    into bins of `resolution_ns` from the run's start: a bin the lane filled joins its full
    neighbours in one span; a bin it only partly filled becomes a span of its own that says how
    much (busy_ns), drawn that much high. So two threads taking 5 ms turns still look half-busy
    each on a two-minute axis, instead of both solid (a sliver every few ms) or both empty.
    A bin keeps the bounds it was opened with when the axis grows; the next starts where it ends.
    Each drawn span keeps the CPU its turns ran on (MIXED_CPUS if several) and how the last ended.
    """

    __slots__ = ("bin", "bin_end", "busy", "floor", "run_start", "run_end", "cpu", "how", "run_cpu", "run_how")

    def __init__(self) -> None:
        self.bin = self.bin_end = -1  # the bin being filled (-1: none)
        self.busy = 0
        self.floor = 0  # where the last bin drawn ended: no bin starts before it
        self.run_start = self.run_end = 0  # full bins in a row, not drawn yet (run_end 0: none)
        self.cpu, self.how = -1, ""  # the open bin's
        self.run_cpu, self.run_how = -1, ""  # the run's

    def add(
        self,
        start: int,
        end: int,
        t0: int,
        res: int,
        out: list[tuple[int, int, int, int, str]],
        cpu: int = -1,
        how: str = "",
    ) -> None:
        """Account [start, end); append (start, end, busy, cpu, how) for each span that can no longer change.
        Intervals come in time order (one thread's, from one sampler)."""
        while start < end:
            if start < self.bin_end:  # the open bin
                take = min(end, self.bin_end) - start
                self.busy += take
                start += take
                self.cpu = cpu if self.cpu == -1 or self.cpu == cpu else MIXED_CPUS
                self.how = how
                continue
            self.close_bin(out)
            aligned = t0 + (start - t0) // res * res
            first = max(aligned, self.floor)
            if start == first and end >= aligned + res:  # whole bins at once
                last = t0 + (end - t0) // res * res
                self._full(first, last, out, cpu, how if last == end else "")
                start = last
                continue
            self.bin, self.bin_end = first, aligned + res

    def _full(self, start: int, end: int, out: list[tuple[int, int, int, int, str]], cpu: int, how: str) -> None:
        self.floor = end
        if self.run_end and self.run_end == start:
            self.run_end = end
            self.run_cpu = cpu if self.run_cpu == cpu else MIXED_CPUS
            self.run_how = how
            return
        self.flush_run(out)
        self.run_start, self.run_end, self.run_cpu, self.run_how = start, end, cpu, how

    def close_bin(self, out: list[tuple[int, int, int, int, str]]) -> None:
        if self.bin < 0:
            return
        width = self.bin_end - self.bin
        if self.busy >= width - width // 50:  # full, give or take the sampler's rounding
            self._full(self.bin, self.bin_end, out, self.cpu, self.how)
        else:
            self.flush_run(out)
            out.append((self.bin, self.bin_end, self.busy, self.cpu, self.how))
            self.floor = self.bin_end
        self.bin, self.bin_end, self.busy, self.cpu, self.how = -1, -1, 0, -1, ""

    def flush_run(self, out: list[tuple[int, int, int, int, str]]) -> None:
        if self.run_end:
            out.append((self.run_start, self.run_end, self.run_end - self.run_start, self.run_cpu, self.run_how))
            self.run_start = self.run_end = 0

    def pending(self) -> list[tuple[int, int, int, int, str]]:
        """What is still being filled: the run of full bins and the bin in progress."""
        out = [(self.run_start, self.run_end, self.run_end - self.run_start, self.run_cpu, "")] if self.run_end else []
        if self.bin >= 0:
            out.append((self.bin, self.bin_end, self.busy, self.cpu, ""))
        return out
