"""The on-CPU sampler: when the kernel had each thread of the run on a CPU, read from outside.

Two sources. Where the kernel allows it (experiments/harness/perf_events.py: `perf_event_paranoid` <= 2,
or CAP_PERFMON), it writes a record of every context switch of the run's threads itself, and
this process only reads them (`run_exact` below): exact edges, the CPU, preempted or not, and no
tick at all. Elsewhere (paranoid 3 or 4, a container without CAP_PERFMON, LAB_ONCPU_SOURCE=proc)
it samples /proc as described next, and the header says why and what would allow the exact one.

The recorder says what the code meant (a task's name, a wait on a Lock); only the kernel knows
what the machine did. Linux keeps, for every thread, the nanoseconds it has spent on a CPU
(`/proc/<pid>/task/<tid>/schedstat`, first field; the second is the time it spent runnable,
waiting for a CPU). This process reads that for every thread of the run's process group, every
tick, and turns the growth into on-CPU intervals: two CPU-bound threads under one GIL take
turns, two processes overlap on two cores, a sleeping thread shows nothing.

It is its own process, forked by the runner before the experiment is imported (so it never
takes an experiment interpreter's GIL and adds no instrumentation to its loops), and writes
its events in the recorder's wire format to a pipe of its own that the server reads (OUT_FD_ENV;
without one, the runner's event pipe, in whole lines of at most PIPE_BUF bytes):

  ["T", start_ns, "", tid, end_ns]   thread `tid` was on a CPU from start_ns to end_ns (/proc)
  ["U", start_ns, "", tids, starts, ends, cpus, hows]
                                      a read's turns from the switch records, as columns (one event,
                                      not one per turn: a string formatted per turn was most of a
                                      read's cost): thread, edges in ns, the CPU it ran on, each
                                      column its little-endian integers (u32, u64, u64, u32) in
                                      base64, and how each ended, a letter each ("p" preempted, "v"
                                      gave the CPU up, "." cut while going on, so a page draws it live)
  ["G", start_ns, "", {end_ns, cpu, lost, why}]   switch records the kernel dropped: unknown, not idle
  ["X", ts, "", {pid, signal, status, known}]   a process of the run ended (its exit status,
                                      read while it is a zombie, before its parent reaps it)
  ["M", ts, "", {...}]               the CPU budget so far (cumulative): the machine's cores and
                                      busy time, the run's CPU and its wait for a CPU, our own cost,
                                      and the lab's (the runner's parent: the server drawing the run)

Cost of the /proc sampler: one wake-up and one pread per thread per tick (two for a thread that ran part of it).
The tick is 1 ms with a few threads; with more it adapts (up to 4 ms) so the sampler stays near
TARGET_SHARE of one core; see Placer for why such ticks still place turns. docs/oncpu.md has
the whole story. Stdlib only, Python 3.9+, Linux.
"""
from __future__ import annotations

import json
import os
import select
import signal
import sys
import time
from binascii import b2a_base64

from experiments.harness import perf_events
from experiments.harness.recorder import PIPE_BUF
from experiments.harness.switch_records import MISC_SWITCH_OUT, RECORD_SWITCH, SWITCH_RECORD, U64, Batch, Gap, Turns
from experiments.harness.wording import plural

GO = b"g"
FOLLOWING_TIMEOUT_S = 5.0  # how long the runner waits, after GO, for the sampler to follow the run
TARGET_SHARE = 0.025  # of one core: what the sampler may spend on itself
# Knowing who runs at each tick's end places a turn exactly as long as a thread starts or stops
# at most once a tick: a tick shorter than CPython's 5 ms switch interval, whatever the number of
# threads (a whole 5 ms turn inside one tick can only be placed in its middle). What a tick costs
# is the machine's (some 35 us just to wake up when both cores are busy here): with many threads
# the tick adapts to TARGET_SHARE within these bounds; past 4 ms the picture would pay for it.
MIN_TICK_S, MAX_TICK_S = 0.001, 0.004
WRITE_EVERY_S = 0.05  # how often events are written (and long intervals cut, so a page draws them live)
DISCOVER_EVERY_S = 0.0  # new threads are looked for every tick (an fstat per process: its link count)
CHILDREN_EVERY_S = 0.03  # how often new child processes are (a read per thread that ran meanwhile)
LIST_EVERY_S = 0.1  # how often every task directory is listed, whatever its link count
ADAPT_EVERY_S = 0.1
FIRST_TICK_S = 0.001
FEW_THREADS = 6  # up to this many threads on a CPU in the last tenth of a second, ticks stay at 1 ms
CONTIGUOUS_NS = 20_000  # pieces closer than this are one interval
# A tick a thread ran all but this of (or a twentieth of it) it ran all of: the reads are not
# instantaneous. (On a busy core the sampler itself takes the thread off its CPU for the 50-100 us
# a tick costs: a 1 ms tick then shows the gap, which is real.)
FULL_SLACK_NS = 50_000
now = time.monotonic_ns
SOURCE_ENV = "LAB_ONCPU_SOURCE"  # "proc": the /proc sampler even where the kernel's switch records are allowed
PARANOID_ENV = "LAB_ONCPU_PRETEND_PARANOID"  # a perf_event_paranoid level to act as if the kernel had
OUT_FD_ENV = "LAB_ONCPU_FD"  # the pipe of our own the server reads our events from (else the runner's fd 1)
RUNNER_PIPE = 1  # the runner's event pipe (its stdout), shared with the experiment's own output
# Switch records are read, and what they say written, every fifth of a second (or when the kernel
# wakes us at half a buffer): each wake-up costs some 0.3-0.4 ms here whatever it finds (a sleeping
# virtual CPU, cold caches, /proc/stat for the budget), so 5 a second keep the reader under 0.5 % of
# a core (10 a second cost 0.5-0.8 %: docs/benchmarks.md); a page's strips grow five times a second,
# behind the lanes by at most that (the final picture is the same).
READ_EVERY_S = 0.2
# A record stamped up to this long before a read began may still be being written by another CPU:
# it is folded at the next read, so a thread moving between CPUs is never paired out of order.
RECORD_SLACK_NS = 200_000


def unavailable(proc: str = "/proc") -> str | None:
    """Why on-CPU sampling cannot work here, or None if it can."""
    if not sys.platform.startswith("linux"):
        return f"the kernel's per-thread CPU time is read from /proc on Linux; this is {sys.platform}"
    pid = os.getpid()
    if not os.path.exists(f"{proc}/{pid}/task/{pid}/schedstat"):
        return f"{proc}/<pid>/task/<tid>/schedstat is missing (a kernel without CONFIG_SCHED_INFO, or /proc hidden)"
    if not hasattr(os, "pidfd_open"):
        return "os.pidfd_open is missing (Linux 5.3 and Python 3.9 or newer are needed)"
    return None


# ---- pure: growth of on-CPU time per tick -> intervals ----

class Placer:
    """One thread's on-CPU intervals from how long it ran in each tick, and whether it ran at its end.

    Per tick [a, b] the kernel tells how long the thread ran (`grew`, schedstat) and whether it
    is running at b (`wchan` is 0 for a thread that is running, or ready to). Whether it ran at
    a is the tick before's answer. So the time is placed at the tick's start (running at a),
    its end (running at b), both (split evenly: where the gap fell is unknown), or, started and
    stopped within the tick, in its middle: exact when a thread starts or stops at most once a
    tick, whatever the tick's length. Without wchan, a thread running at b is taken to be one
    whose time was placed at the end. Pieces that touch make one interval.
    """

    __slots__ = ("start", "end", "running")

    def __init__(self) -> None:
        self.start = self.end = 0  # the open interval, if end > 0
        self.running = False  # at the end of the last tick

    def tick(self, a: int, b: int, grew: int, running_at_b: bool | None = None) -> tuple[int, int] | None:
        """Account one tick; returns an interval that is over, if one is."""
        running_at_a = self.running
        if grew <= 0:
            self.running = False
            return self.cut()
        tick = b - a
        if grew >= tick - max(FULL_SLACK_NS, tick // 20):  # all of it, give or take when we read
            pieces, running_at_b = [(a, b)], True if running_at_b is None else running_at_b
        elif running_at_b is None:  # no wchan: the old guess, from the tick before alone
            pieces = [(a, a + grew)] if running_at_a else [(b - grew, b)]
            running_at_b = not running_at_a
        elif running_at_a and running_at_b:  # stopped and went on within the tick
            pieces = [(a, a + grew // 2), (b - grew + grew // 2, b)]
        elif running_at_a:
            pieces = [(a, a + grew)]
        elif running_at_b:
            pieces = [(b - grew, b)]
        else:
            middle = (a + b) // 2
            pieces = [(middle - grew // 2, middle + grew - grew // 2)]
        self.running = running_at_b
        done = None
        for start, end in pieces:
            if self.end and start - self.end <= CONTIGUOUS_NS:
                self.end = end
            else:
                done = self.cut() or done
                self.start, self.end = start, end
        return done

    def cut(self) -> tuple[int, int] | None:
        """The open interval, ended now (it may go on: the next piece then starts a new one)."""
        if not self.end:
            return None
        interval = (self.start, self.end)
        self.start = self.end = 0
        return interval


def on_cpu(tid: int, interval: tuple[int, int]) -> str:
    """An on-CPU interval in the wire format, encoded (formatted as found: the hot loop's only output)."""
    return f'["T",{interval[0]},"",{tid},{interval[1]}]'


# On the runner's pipe a line must fit in PIPE_BUF (an atomic write): a turn takes 33 bytes (its 24 bytes are 32
# in base64, and its letter).
TURNS_PER_SHARED_LINE = (PIPE_BUF - 100) // 33


def turns_event(batch: Batch) -> str:
    """Turns from the switch records as one event, a column each: its packed integers in base64, at C speed
    (a decimal string per integer was most of what a read cost)."""
    tids, starts, ends, cpus = (b2a_base64(column, newline=False).decode() for column in batch[:4])
    first = memoryview(batch.starts).cast(U64)[0]
    return f'["U",{first},"","{tids}","{starts}","{ends}","{cpus}","{batch.hows}"]'


def turns_events(batch: Batch, most: int) -> list[str]:
    """The batch as events of at most `most` turns each."""
    return [turns_event(batch.part(at, at + most)) for at in range(0, len(batch.hows), most)]


def gap_event(gap: Gap, buffer_kib: int) -> str:
    """Records the kernel dropped: a gap in every strip, with why (never drawn as idle)."""
    why = (f"the kernel dropped {plural(gap.lost, 'context-switch record')} on CPU {gap.cpu}: "
           f"its {buffer_kib} KiB buffer filled faster than the lab read it (a storm of switches, or a machine too busy "
           "to give the reader a CPU in time)")
    return json.dumps(["G", gap.start, "", {"end_ns": gap.end, "cpu": gap.cpu, "lost": gap.lost, "why": why}],
                      separators=(",", ":"))


def cpu_ns_of(stat: str, ticks_per_s: int) -> int:
    """A process's CPU time so far (user and system, all its threads) from its /proc/<pid>/stat line."""
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // ticks_per_s


def parent_of(stat: str) -> int:
    """The parent's pid from a /proc/<pid>/stat line."""
    return int(stat[stat.rindex(")") + 2:].split()[1])


def exit_of(stat: str) -> dict:
    """A zombie's exit from its /proc/<pid>/stat line: field 52 holds the status as waitpid reports it."""
    fields = stat[stat.rindex(")") + 2:].split()
    state, code = fields[0], int(fields[49])
    if state != "Z":
        return {"known": False, "signal": 0, "status": 0}
    return {"known": True, "signal": code & 0x7F, "status": (code >> 8) & 0xFF}


def host_busy_ns(stat_line: str, ticks_per_s: int) -> int:
    """The machine's busy CPU time from /proc/stat's first line (everything but idle and iowait)."""
    values = [int(v) for v in stat_line.split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (values + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) * 1_000_000_000 // ticks_per_s


# ---- I/O: the process group, /proc, the pipe ----
# (tested through real runs, tests/experiments/test_oncpu_runs.py; `make mutation` mutates the pure code above only)
# pragma: no mutate block

class Thread:
    """A thread of the run: its schedstat, wchan and children files, open, and what schedstat said last."""

    __slots__ = ("tid", "pid", "fd", "wchan", "children", "raw", "cpu", "waited_before", "placer", "forked_raw")

    def __init__(self, tid: int, pid: int, fds: tuple[int, int, int], raw: bytes, waited_before: int):
        self.tid, self.pid = tid, pid
        self.fd, self.wchan, self.children = fds  # schedstat, wchan and children, open (-1: not to be had)
        self.raw, self.cpu, self.waited_before = raw, int(raw.split()[0]), waited_before
        self.placer = Placer()
        self.forked_raw = b""  # its schedstat when its children were last read: it starts none unless it ran

    def waited(self) -> int:
        """Its time runnable but waiting for a CPU, since sampling began (schedstat's second field)."""
        return int(self.raw.split()[1]) - self.waited_before


class Process:
    """A process of the run: its pidfd (readable once it ends), its task directory and stat file, open.

    The stat file is opened ahead: when the process ends, its exit status must be read before
    its parent reaps it (a multiprocessing.Pool reaps within microseconds), and a pread on an
    open file is the quickest read there is.
    """

    __slots__ = ("pidfd", "tasks", "stat", "links")

    def __init__(self, pidfd: int, tasks: int, stat: int):
        self.pidfd, self.tasks, self.stat, self.links = pidfd, tasks, stat, 0

    def close(self) -> None:
        for fd in (self.pidfd, self.tasks, self.stat):
            os.close(fd)


class Sampler:
    def __init__(self, root: int, out_fd: int = RUNNER_PIPE, proc: str = "/proc", exact: bool = False):
        self.root, self.out_fd, self.proc = root, out_fd, proc
        # exact: the on-CPU time comes from the kernel's switch records (run_ns too); /proc only
        # finds processes (to see them end) and their threads' wait for a CPU.
        self.exact = exact
        self.me = os.getpid()
        self.threads: dict[int, Thread] = {}
        self.processes: dict[int, Process] = {}
        self.gone: set[int] = set()  # processes seen to end
        self.by_pidfd: dict[int, int] = {}  # pidfds are in the poll set: one becomes readable when its process ends
        self.poll = select.epoll()
        self.events: list[str] = []  # encoded: the intervals are formatted as they are found
        self.run_ns = 0  # CPU time of the run's threads since sampling began
        self.waited_ns = 0  # the time threads that have ended spent runnable but waiting for a CPU
        self.tick_s = FIRST_TICK_S
        self.ran: set[int] = set()  # threads that were on a CPU since the tick was last adapted
        self.ticks_per_s = os.sysconf("SC_CLK_TCK")
        self.cores = os.cpu_count() or 1
        self._stat = os.open(f"{proc}/stat", os.O_RDONLY)
        self._lab = self._open_lab()
        self._baseline = True  # the first scan: time the threads spent before sampling is not the run's

    def close(self) -> None:
        """Every file it holds open closed (for a sampler that ends before the process does)."""
        for thread in self.threads.values():
            for fd in (thread.fd, thread.wchan, thread.children):
                if fd >= 0:
                    os.close(fd)
        for process in self.processes.values():
            process.close()
        os.close(self._stat)
        if self._lab is not None:
            os.close(self._lab)
        self.poll.close()
        self.threads, self.processes = {}, {}

    def _open_lab(self) -> int | None:
        """The lab's own process (the runner's parent: the web server that draws the run, or a runner node),
        whose CPU time the budget tells apart from other programs'; None where it cannot be read."""
        try:
            with open(f"{self.proc}/{self.root}/stat") as f:
                lab = parent_of(f.read())
            return os.open(f"{self.proc}/{lab}/stat", os.O_RDONLY) if lab > 1 else None
        except (OSError, ValueError, IndexError):
            return None

    def lab_ns(self) -> int | None:
        if self._lab is None:
            return None
        try:
            return cpu_ns_of(os.pread(self._lab, 1024, 0).decode(), self.ticks_per_s)
        except (OSError, ValueError, IndexError):  # the lab went away (a node killed mid-run)
            return None

    # -- discovery --

    def discover(self, full: bool = False, with_children: bool = True) -> None:
        """New threads of the processes we know, and new children of any of their threads (a thread whose
        schedstat has not grown since its children were last read has started none).

        A process's task directory counts its threads in its link count: it is listed only
        when that changed, or when `full` (a thread that ended while another began is seen then).
        """
        pread, fstat, seen = os.pread, os.fstat, set(self.processes) | self.gone
        todo = [self.root] if not self.processes else list(self.processes)
        while todo:
            pid = todo.pop()
            if pid not in self.processes and not self._watch(pid):
                continue
            process = self.processes[pid]
            try:
                links = fstat(process.tasks).st_nlink
                if full or links != process.links:
                    process.links = links
                    for tid in map(int, os.listdir(f"{self.proc}/{pid}/task")):
                        if tid not in self.threads:
                            self._add_thread(pid, tid)
            except OSError:
                continue
            for thread in self.threads.values() if with_children else ():
                # A thread that has not run since its children were last read has started none.
                if thread.pid != pid or thread.children < 0:
                    continue
                if thread.raw == thread.forked_raw:
                    continue
                thread.forked_raw = thread.raw
                try:
                    children = pread(thread.children, 4096, 0).split()
                except OSError:
                    continue
                for child in map(int, children):
                    if child != self.me and child not in seen:
                        seen.add(child)
                        todo.append(child)
        self._baseline = False

    def started(self, pid: int, tid: int) -> None:
        """A FORK record: thread `tid` of process `pid` started (its first thread, if a process)."""
        if pid == self.me or pid in self.gone:
            return
        if pid not in self.processes:
            if pid == tid and self._watch(pid):
                try:  # a process forked from a thread of many has only that one; spawn's exec keeps it
                    for task in map(int, os.listdir(f"{self.proc}/{pid}/task")):
                        self._add_thread(pid, task)
                except OSError:  # gone already
                    pass
            return
        if tid not in self.threads:
            self._add_thread(pid, tid)

    def _watch(self, pid: int) -> bool:
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # gone already
            return False
        tasks, stat = _open_or_none(f"{self.proc}/{pid}/task"), _open_or_none(f"{self.proc}/{pid}/stat")
        if tasks < 0 or stat < 0:  # gone meanwhile
            for fd in (pidfd, tasks, stat):
                if fd >= 0:
                    os.close(fd)
            return False
        self.processes[pid] = Process(pidfd, tasks, stat)
        self.by_pidfd[pidfd] = pid
        self.poll.register(pidfd, select.EPOLLIN)
        return True

    def _add_thread(self, pid: int, tid: int) -> None:
        task = f"{self.proc}/{pid}/task/{tid}"
        fd = _open_or_none(f"{task}/schedstat")
        try:
            raw = os.pread(fd, 64, 0)
            cpu, waited = (int(v) for v in raw.split()[:2])
        except (OSError, ValueError):  # gone meanwhile (or fd -1: never there)
            if fd >= 0:
                os.close(fd)
            return
        # Without children (CONFIG_PROC_CHILDREN) the processes it starts go unseen; without wchan
        # (or where it always says 0) its turns are placed from its CPU time alone. The switch records
        # say both: only schedstat is read then (for the thread's wait for a CPU).
        children, wchan = (-1, -1) if self.exact else (_open_or_none(f"{task}/children"), _open_or_none(f"{task}/wchan"))
        if not self._baseline and not self.exact:  # born during the run: all its time is the run's (not drawn before now)
            self.run_ns += cpu
            waited = 0
        self.threads[tid] = Thread(tid, pid, (fd, wchan, children), raw, waited)

    # -- sampling --

    def sample(self, a: int, b: int) -> None:
        """Read every thread's CPU time at b; the growth since a becomes on-CPU intervals.

        The hot loop: one pread per thread, and nothing parsed for a thread that did not run.
        """
        pread, events, gone, ran = os.pread, self.events, [], self.ran
        for thread in self.threads.values():
            try:
                raw = pread(thread.fd, 64, 0)
            except OSError:  # the thread exited: its last partial tick is lost
                gone.append(thread)
                continue
            placer = thread.placer
            if raw == thread.raw:  # a sleeping thread: nothing to parse
                if placer.running or placer.end:
                    interval = placer.tick(a, b, 0)
                    if interval:
                        events.append(on_cpu(thread.tid, interval))
                continue
            cpu = int(raw[:raw.index(b" ")])  # the wait for a CPU (second field) is read at budget time
            ran.add(thread.tid)
            grew = cpu - thread.cpu
            self.run_ns += grew
            thread.raw, thread.cpu = raw, cpu
            running = None
            # Whether it runs at b: asked only where it is in doubt. A thread that ran the whole
            # tick runs on, most likely; one that ran a sliver of it (a GIL waiter waking to ask
            # for it, every 5 ms) is back asleep.
            if grew < (b - a) >> 6:
                running = False
            elif thread.wchan >= 0 and grew < b - a:
                try:
                    running = pread(thread.wchan, 32, 0) == b"0"
                except OSError:
                    running = False
            interval = placer.tick(a, b, grew, running)
            if interval:
                events.append(on_cpu(thread.tid, interval))
        for thread in gone:
            self._drop(thread)

    def _drop(self, thread: Thread) -> None:
        interval = thread.placer.cut()
        if interval:
            self.events.append(on_cpu(thread.tid, interval))
        self.waited_ns += thread.waited()
        for fd in (thread.fd, thread.wchan, thread.children):
            if fd >= 0:
                os.close(fd)
        del self.threads[thread.tid]

    def refresh(self) -> None:
        """Each thread's schedstat read again (for its wait for a CPU), and the threads that ended let go:
        what `sample` does each tick, done at the budget's pace where the switch records say the rest."""
        gone = []
        for thread in self.threads.values():
            try:
                thread.raw = os.pread(thread.fd, 64, 0)
            except OSError:
                gone.append(thread)
        for thread in gone:
            self._drop(thread)

    def cut_open(self) -> None:
        """Hand over the intervals still going on (they go on as new ones): the page draws them live."""
        for thread in self.threads.values():
            interval = thread.placer.cut()
            if interval:
                self.events.append(on_cpu(thread.tid, interval))

    def ended(self, fd: int) -> None:
        """A pidfd became readable: that process exited. Read how, before its parent reaps it."""
        pid = self.by_pidfd.pop(fd)
        process = self.processes.pop(pid)
        try:
            how = exit_of(os.pread(process.stat, 1024, 0).decode())
        except (OSError, ValueError, IndexError):  # reaped already
            how = {"known": False, "signal": 0, "status": 0}
        self.poll.unregister(fd)
        process.close()
        self.gone.add(pid)  # a zombie is still listed as its parent's child: not to be watched again
        self.events.append(json.dumps(["X", now(), "", {"pid": pid, **how}]))

    def budget(self) -> None:
        try:
            line = os.pread(self._stat, 256, 0).split(b"\n", 1)[0].decode()
            busy = host_busy_ns(line, self.ticks_per_s)
        except (OSError, ValueError):
            busy = None
        self.events.append(json.dumps(["M", now(), "", {
            "cores": self.cores, "host_busy_ns": busy, "run_ns": self.run_ns, "lab_ns": self.lab_ns(),
            "waited_ns": self.waited_ns + sum(thread.waited() for thread in self.threads.values()),
            "sampler_ns": time.process_time_ns(), "tick_us": round(self.tick_s * 1e6),
        }], separators=(",", ":")))

    def write(self) -> None:
        """On a pipe of our own, one line; on the runner's (shared with the experiment's own output), whole
        lines of at most PIPE_BUF bytes each: atomic writes."""
        events, self.events = self.events, []
        if self.out_fd != RUNNER_PIPE:
            if events:
                self._write_line(events)
            return
        line: list[str] = []
        size = 0
        for text in events:
            if size + len(text) + 3 > PIPE_BUF and line:
                self._write_line(line)
                line, size = [], 0
            line.append(text)
            size += len(text) + 1
        if line:
            self._write_line(line)

    def _write_line(self, items: list[str]) -> None:
        data = ("[" + ",".join(items) + "]\n").encode()
        try:
            while data:
                data = data[os.write(self.out_fd, data):]
        except OSError:  # the server is gone
            raise SystemExit(0) from None

    def adapt(self, cpu_share: float) -> None:
        """The tick: 1 ms while there are few threads (two threads' 5 ms turns need it, whatever it
        costs: a picture of turns that overlap would teach the wrong lesson); with more, longer when
        reading them costs more than TARGET_SHARE of a core."""
        busy, self.ran = len(self.ran), set()
        if busy <= FEW_THREADS:
            self.tick_s = MIN_TICK_S
        elif cpu_share > 0:
            self.tick_s = min(MAX_TICK_S, max(MIN_TICK_S, self.tick_s * cpu_share / TARGET_SHARE))


def run(root: int, control: int, out_fd: int = RUNNER_PIPE, switches: perf_events.SwitchEvents | None = None,
        ready: int = -1) -> None:
    """Wait for GO on `control`, then follow `root`'s process group until `control` reaches EOF
    (the runner closes it at its end, or dies): from the kernel's switch records if `switches`,
    else by sampling /proc. Once it follows, it says so on `ready` (`start` waits for that)."""
    if switches is not None:
        _rehearse(root, out_fd)
    if os.read(control, 1) != GO:
        return
    if switches is not None:
        run_exact(root, control, out_fd, switches, ready)
        return
    sampler = Sampler(root, out_fd)
    sampler.poll.register(control, select.EPOLLIN)
    _wake_on_time()
    stop = False

    def on_term(signum, frame):  # the run is cancelled: keep what was measured
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    sampler.discover()
    sampler.budget()
    _following(ready)
    a = now()
    last_write = last_discover = last_children = last_list = last_adapt = a
    adapt_cpu = time.process_time_ns()
    while not stop:
        for fd, _ in sampler.poll.poll(sampler.tick_s):
            if fd == control:
                stop = True
            else:
                sampler.ended(fd)
        b = now()
        sampler.sample(a, b)
        a = b
        if b - last_discover >= DISCOVER_EVERY_S * 1e9:
            full = b - last_list >= LIST_EVERY_S * 1e9
            children = b - last_children >= CHILDREN_EVERY_S * 1e9
            sampler.discover(full, children)
            last_discover = b
            last_list = b if full else last_list
            last_children = b if children else last_children
        if b - last_write >= WRITE_EVERY_S * 1e9:
            sampler.cut_open()
            sampler.budget()
            sampler.write()
            last_write = b
        if b - last_adapt >= ADAPT_EVERY_S * 1e9:
            cpu = time.process_time_ns()
            sampler.adapt((cpu - adapt_cpu) / (b - last_adapt))
            adapt_cpu, last_adapt = cpu, b
        if not sampler.processes:
            break
    sampler.sample(a, now())
    sampler.cut_open()
    sampler.budget()
    sampler.write()


def fold(sampler: Sampler, turns: Turns, chunks: list[bytes], cut: int | None, buffer_kib: int) -> None:
    """What the records read (`chunks`, a CPU's buffer each) say, as `sampler`'s events: each turn, the turns
    still going on cut at `cut` (None: not this time), each gap; the processes they say started are watched."""
    batches, gaps = turns.feed(chunks)
    events = sampler.events
    if cut is not None:  # the page draws them live
        batches.append(Batch.of(turns.open_turns(cut)))
    batch = Batch.joined(batches)  # one event a read (on the runner's pipe, as many as whole lines need)
    if batch.hows:
        sampler.run_ns += batch.run_ns()
        events += turns_events(batch, TURNS_PER_SHARED_LINE if sampler.out_fd == RUNNER_PIPE else len(batch.hows))
    for gap in gaps:
        events.append(gap_event(gap, buffer_kib))
    for started in turns.take_forks():
        sampler.started(started.pid, started.tid)


def _rehearse(root: int, out_fd: int) -> None:
    """Every step of a read once, on made-up records, before the run, what it makes dropped. A forked process
    shares its parent's memory until it writes to it, and running a piece of code the first time writes to the
    pages it touches (reference counts): some 190 pages copied, about 1 ms of CPU, now instead of during the
    run (some 65 are left to it)."""
    made_up = b"".join(SWITCH_RECORD.pack(RECORD_SWITCH, MISC_SWITCH_OUT if i % 2 else 0, SWITCH_RECORD.size, root,
                                          root, i + 1, 0, 0) for i in range(4))
    rehearsal = Sampler(root, out_fd, exact=True)
    rehearsal.discover(with_children=False)
    fold(rehearsal, Turns(0), [made_up, made_up[:SWITCH_RECORD.size]], 10, 0)
    rehearsal.refresh()
    rehearsal.budget()
    rehearsal.events.clear()
    rehearsal.close()


def run_exact(root: int, control: int, out_fd: int, switches: perf_events.SwitchEvents, ready: int = -1) -> None:
    """Read the kernel's switch records at the pace events are written (or sooner, when a buffer is
    half full). The records also say when a thread or process starts (FORK): a new process is watched
    at once, to read how it ends, and a new thread's wait for a CPU is read from its schedstat at the
    budget's pace. No tick, no polling of /proc, no priority: this process wakes some 5 times a second."""
    since = now()
    switches.read()  # what the runner did before GO (waiting for its job, importing) is not the run's
    turns = Turns(since)
    sampler = Sampler(root, out_fd, exact=True)
    sampler.tick_s = READ_EVERY_S  # what the budget reports as its tick: how often the records are read
    buffer_kib = switches.size // 1024
    sampler.poll.register(control, select.EPOLLIN)
    perf_fds = set(switches.fds)
    for fd in perf_fds:
        sampler.poll.register(fd, select.EPOLLIN)  # woken when a buffer is half full
    stop = False

    def on_term(signum, frame):  # the run is cancelled: keep what was measured
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)

    def read(cut_open: bool) -> None:
        cut = now() - RECORD_SLACK_NS  # taken before the read: see Turns.open_turns
        fold(sampler, turns, switches.read(), cut if cut_open else None, buffer_kib)

    sampler.discover(with_children=False)  # the runner's threads so far; the records say what comes next
    sampler.budget()
    _following(ready)
    last_write = now()
    while not stop:
        for fd, _ in sampler.poll.poll(READ_EVERY_S):
            if fd == control:
                stop = True
            elif fd not in perf_fds:
                sampler.ended(fd)
        due = now() - last_write >= READ_EVERY_S * 1e9 * 0.9  # not at a wake-up at half a buffer just after one
        read(cut_open=due)
        if due:
            sampler.refresh()
            sampler.budget()
            sampler.write()
            last_write = now()
        if not sampler.processes:
            break
    read(cut_open=True)
    sampler.refresh()
    sampler.budget()
    sampler.write()
    switches.close()


def _open_or_none(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY)
    except OSError:
        return -1


def _wake_on_time() -> None:
    """Ask to preempt the run's threads when a tick is due, where we may.

    A tick that starts late is a long tick, and two threads that took turns within one cannot
    be told apart. A real-time priority (root, or CAP_SYS_NICE) makes the kernel run us as soon
    as the tick's timer fires; a tick costs some 30 us, so the run loses next to nothing. Where
    that is not allowed, a higher nice value than the run's is the next best; else the default.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        return
    except (OSError, AttributeError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, 0, -5)
    except (OSError, AttributeError):
        pass


class Control:
    """The runner's end of the pipe that starts the sampler (GO) and stops it (its close: EOF), and of the one
    on which the sampler says it follows the run (`ready`, until `start` has heard it).

    Every process the experiment forks gets a copy of them, which must be closed there (else the
    sampler would never see EOF): an at-fork handler does, as long as they are open. Once the runner
    has closed one, the number may be reused by the experiment's own pipes: then the handler must
    not touch it, hence -1.
    """

    def __init__(self, fd: int, ready: int):
        self.fd, self.ready = fd, ready

    def close(self) -> None:
        self.close_ready()
        fd, self.fd = self.fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    def close_ready(self) -> None:
        fd, self.ready = self.ready, -1
        if fd >= 0:
            os.close(fd)


def open_switches(root: int, source: str = "auto", pretend_paranoid: int | None = None,
                  ) -> tuple[perf_events.SwitchEvents | None, dict]:
    """The kernel's switch records of `root`'s tree from now on, or why not: (events, what the header says).

    What the header says: {"source": "switches"}, or {"source": "proc", "reason": why, "fix": what
    would allow the switch records ("" if nothing the lab could say)}.
    """
    if source == "proc":
        return None, {"source": "proc", "reason": f"the /proc sampler was chosen ({SOURCE_ENV}=proc)", "fix": ""}
    try:
        events = perf_events.SwitchEvents(root, paranoid_level=pretend_paranoid)
        events.enable()
    except perf_events.Unavailable as why:
        return None, {"source": "proc", "reason": why.reason, "fix": why.fix}
    except (OSError, ValueError) as exc:
        return None, {"source": "proc", "reason": f"the switch records could not be opened: {exc}", "fix": ""}
    return events, {"source": "switches"}


def source_here(source: str = "auto", pretend_paranoid: int | None = None) -> dict:
    """Which source a run would draw its strips from on this machine now, and if the /proc sampler,
    why and the fix (the header's form, see `open_switches`): for a server to say at its start."""
    off = unavailable()
    if off is not None:
        return {"source": "", "reason": off, "fix": ""}
    events, said = open_switches(os.getpid(), source, pretend_paranoid)
    if events is not None:
        events.close()
    return said


def _from_env() -> tuple[str, int | None]:
    pretend = os.environ.get(PARANOID_ENV, "").strip()
    return os.environ.get(SOURCE_ENV, "auto"), int(pretend) if pretend.lstrip("-").isdigit() else None


def fork(out_fd: int = RUNNER_PIPE) -> tuple[int, Control, dict]:
    """Fork the sampler of this process's group, waiting for `start`: its pid, its control, and its
    source ({"source": "switches"}, or {"source": "proc", "reason": ..., "fix": ...}).

    Call it before any thread starts (a fork copies only the calling thread), so the runner
    forks it while it waits for its job, not when the run starts. The switch records are opened
    on this process now, before this returns: every thread and process it starts from then on
    is covered (inherit), none before.
    """
    read_end, write_end = os.pipe()
    ready_read, ready_write = os.pipe()
    root = os.getpid()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(write_end)
            os.close(ready_read)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)  # the job arrives on the runner's stdin: never ours to read
            os.close(devnull)
            switches, source = open_switches(root, *_from_env())
            os.write(ready_write, json.dumps(source).encode() + b"\n")
            run(root, read_end, out_fd, switches, ready_write)
        except SystemExit:
            pass
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(read_end)
    os.close(ready_write)
    answer = b""
    while not answer.endswith(b"\n") and (chunk := os.read(ready_read, 4096)):  # a line once it has opened
        answer += chunk  # the records, or failed to; EOF if it died
    try:
        source = json.loads(answer)
    except ValueError:
        source = {"source": "proc", "reason": "the sampler died while opening the switch records", "fix": ""}
    control = Control(write_end, ready_read)
    os.register_at_fork(after_in_child=control.close)
    return pid, control, source


ENDED = "ended before it followed the run"  # `start`'s answer when the sampler died: the run has no strips


def start(control: Control, timeout_s: float = FOLLOWING_TIMEOUT_S) -> str:
    """GO, and wait (at most `timeout_s`) until the sampler follows the run. It takes the records written before
    it does for the runner's, not the run's: a thread or process the experiment started meanwhile (a loaded
    machine can keep the sampler from a CPU for tens of milliseconds) would have gone unseen, and its death
    unnamed. Returns "" once it follows; else what it did instead: late (it follows once it gets a CPU, the run
    goes on and its header says so), or ENDED."""
    try:
        os.write(control.fd, GO)
    except BrokenPipeError:  # it died waiting for GO: the run goes on without it
        control.close_ready()
        return ENDED
    try:
        if not select.select([control.ready], [], [], timeout_s)[0]:
            return f"did not follow the run within {timeout_s:g} s of its start (a machine too busy to give it a CPU)"
        return "" if os.read(control.ready, 1) else ENDED
    finally:
        control.close_ready()


def _following(ready: int) -> None:
    """The sampler's word to the runner, waiting in `start`: the run is followed from now on."""
    if ready >= 0:
        try:
            os.write(ready, b"!")
        except BrokenPipeError:  # it stopped waiting (`start`'s timeout): the run goes on, and so do we
            pass
        os.close(ready)


def stop(pid: int, control: Control, timeout_s: float = 1.0) -> None:
    """Tell the sampler the run is over and wait (bounded) for its last events."""
    control.close()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.002)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
