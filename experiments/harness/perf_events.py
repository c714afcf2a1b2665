"""Ask the kernel for a record of every context switch of a process tree: perf_event_open with ctypes.

One software "dummy" event per CPU on the runner's pid, opened before the experiment starts
anything: `inherit` extends it to every thread and process started afterwards (fork and spawn
alike), `context_switch` makes the kernel write a PERF_RECORD_SWITCH each time one of them goes on
or off a CPU, `task` a PERF_RECORD_EXIT when one ends (its last switch-out is not recorded),
`sample_id_all` stamps each record with its tid, time (CLOCK_MONOTONIC, `use_clockid`: the
recorder's clock) and CPU. No sampling, no counters: the records are the whole cost, written by
the kernel at the switch itself (uftrace's utils/perf.c does the same). The kernel refuses to
mmap an inherited event opened on every CPU at once (cpu -1), hence one per CPU.

Each event has a ring buffer of 1 + DATA_PAGES pages mapped here: the first page's data_head says
how far the kernel wrote, data_tail how far we read (we advance it, so the kernel never writes
over what we have not read; what does not fit is dropped and counted in a PERF_RECORD_LOST).
The kernel wakes a poll on the event when a buffer is half full (`watermark`), so a reader
that falls behind its own pace reads before anything is lost.

Whether it is allowed: `kernel.perf_event_paranoid` <= 2 (the upstream default) for one's own
processes, or CAP_PERFMON; Debian's kernels set 3, Ubuntu's 4, and Docker's default seccomp
profile refuses the call (EPERM) without CAP_PERFMON. `Unavailable` says which, and the fix.

Stdlib only (ctypes), Python 3.9+, Linux x86-64 and arm64.
"""
from __future__ import annotations

import ctypes
import errno
import mmap
import os
import platform
import struct
from typing import Callable

from experiments.harness.switch_records import unwrap

PARANOID = "/proc/sys/kernel/perf_event_paranoid"
# 256 KiB per CPU. Counted on this machine, lock-counter at 16 threads (window=call) on two free cores
# writes some 430 000 switch records a second, about 7 MB/s per CPU (32 bytes a record): the kernel
# wakes the reader at half a buffer (every ~20 ms then; else it reads every 200 ms), and it kept up,
# losing none (docs/benchmarks.md). On a loaded machine the reader may not get a CPU for 200 ms:
# with 128 KiB records were lost then, with 1 MiB never. Not more: an unprivileged user may lock `perf_event_mlock_kb`
# (516 KiB) per CPU for all its runs at once, beyond which RLIMIT_MEMLOCK counts.
DATA_PAGES = 64
SYSCALL = {"x86_64": 298, "aarch64": 241, "arm64": 241}

PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_DUMMY = 9
SAMPLE_TID, SAMPLE_TIME, SAMPLE_CPU = 1 << 1, 1 << 2, 1 << 7
FLAG_DISABLED, FLAG_INHERIT, FLAG_EXCLUDE_KERNEL, FLAG_EXCLUDE_HV = 1 << 0, 1 << 1, 1 << 5, 1 << 6
FLAG_TASK, FLAG_WATERMARK, FLAG_SAMPLE_ID_ALL = 1 << 13, 1 << 14, 1 << 18
FLAG_USE_CLOCKID, FLAG_CONTEXT_SWITCH = 1 << 25, 1 << 26
PERF_FLAG_FD_CLOEXEC = 1 << 3
IOC_ENABLE, IOC_DISABLE = 0x2400, 0x2401
ATTR_SIZE = 112  # PERF_ATTR_SIZE_VER5 (Linux 4.1: use_clockid and context_switch are 4.3)
DATA_HEAD, DATA_TAIL = 1024, 1032  # offsets in the first page (struct perf_event_mmap_page)
CLOCK_MONOTONIC = 1


class Unavailable(Exception):
    """Why the switch records cannot be had here, and what would allow them."""

    def __init__(self, reason: str, fix: str = ""):
        super().__init__(reason)
        self.reason, self.fix = reason, fix


def attr_bytes(watermark_bytes: int) -> bytes:
    """struct perf_event_attr for the switch records (fields by offset, PERF_ATTR_SIZE_VER5)."""
    flags = (FLAG_DISABLED | FLAG_INHERIT | FLAG_EXCLUDE_KERNEL | FLAG_EXCLUDE_HV | FLAG_TASK | FLAG_WATERMARK
             | FLAG_SAMPLE_ID_ALL | FLAG_USE_CLOCKID | FLAG_CONTEXT_SWITCH)
    attr = bytearray(ATTR_SIZE)
    struct.pack_into("<IIQQQQQI", attr, 0, PERF_TYPE_SOFTWARE, ATTR_SIZE, PERF_COUNT_SW_DUMMY, 0,
                     SAMPLE_TID | SAMPLE_TIME | SAMPLE_CPU, 0, flags, watermark_bytes)
    struct.pack_into("<i", attr, 92, CLOCK_MONOTONIC)  # clockid
    return bytes(attr)


def paranoid(path: str = PARANOID) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def why_refused(code: int, level: int | None) -> Unavailable:
    """The words for a refused perf_event_open, from its errno and the paranoid level."""
    setting = f"kernel.perf_event_paranoid is {level}" if level is not None else "kernel.perf_event_paranoid is unknown"
    if level is not None and level > 2 and code in (errno.EACCES, errno.EPERM):
        return Unavailable(f"{setting}: the kernel refuses perf_event_open to unprivileged users "
                           f"({errno.errorcode.get(code, code)})",
                           "sysctl kernel.perf_event_paranoid=2 (or give the lab CAP_PERFMON)")
    if code == errno.EACCES:
        return Unavailable(f"perf_event_open refused with EACCES while {setting}: a security module "
                           "(SELinux, AppArmor) or a missing CAP_PERFMON",
                           "allow perf_event_open for the lab's user, or give it CAP_PERFMON")
    if code == errno.EPERM:
        return Unavailable(f"perf_event_open refused with EPERM while {setting}: a seccomp filter "
                           "(Docker's default profile) or a missing CAP_PERFMON",
                           "docker run --cap-add PERFMON (or a seccomp profile allowing perf_event_open)")
    if code == errno.ENOSYS:
        return Unavailable("perf_event_open is not in this kernel (CONFIG_PERF_EVENTS off) or is filtered out (ENOSYS)",
                           "a kernel with CONFIG_PERF_EVENTS")
    if code in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOENT):
        return Unavailable(f"this kernel does not know the context-switch records ({errno.errorcode[code]}; Linux 4.3+ needed)",
                           "Linux 4.3 or newer")
    if code == errno.EMFILE:
        return Unavailable("no file descriptor left for one perf event per CPU (EMFILE)", "raise RLIMIT_NOFILE")
    return Unavailable(f"perf_event_open failed: {os.strerror(code)} ({errno.errorcode.get(code, code)})")


OpenCall = Callable[[bytes, int, int], int]  # (attr, pid, cpu) -> fd, or raises OSError: the syscall seam


def _libc_open() -> OpenCall:
    libc = ctypes.CDLL(None, use_errno=True)
    number = SYSCALL.get(platform.machine())
    if number is None:
        raise Unavailable(f"perf_event_open's syscall number on {platform.machine()} is not known here")
    syscall = libc.syscall
    syscall.restype = ctypes.c_long

    def perf_event_open(attr: bytes, pid: int, cpu: int) -> int:
        buffer = ctypes.create_string_buffer(attr, len(attr))
        fd = syscall(ctypes.c_long(number), buffer, ctypes.c_int(pid), ctypes.c_int(cpu), ctypes.c_int(-1),
                     ctypes.c_ulong(PERF_FLAG_FD_CLOEXEC))
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return int(fd)

    return perf_event_open


class SwitchEvents:
    """One event and ring buffer per CPU on `pid`'s tree, read at the caller's pace."""

    def __init__(self, pid: int, cpus: int | None = None, data_pages: int = DATA_PAGES,
                 open_call: OpenCall | None = None, paranoid_level: int | None = None):
        """Open and map the events, disabled (`enable` starts them). Raises Unavailable.

        `open_call` and `paranoid_level` are the seams a test uses (EPERM injected; a pretended
        level): a level > 2 is refused as the kernel would, before any call.
        """
        level = paranoid() if paranoid_level is None else paranoid_level
        # A real level is the kernel's to apply (CAP_PERFMON passes it); a pretended one is refused here.
        if paranoid_level is not None and paranoid_level > 2:
            raise why_refused(errno.EACCES, level)
        page = mmap.PAGESIZE
        self.size = data_pages * page
        self.fds: list[int] = []
        self.maps: list[mmap.mmap] = []
        cpus = cpus or os.cpu_count() or 1
        try:
            opener = open_call or _libc_open()
            attr = attr_bytes(self.size // 2)
            for cpu in range(cpus):
                try:
                    fd = opener(attr, pid, cpu)
                except OSError as exc:
                    if exc.errno == errno.ENODEV or exc.errno == errno.ENXIO:  # an offline CPU
                        continue
                    raise why_refused(exc.errno or 0, level) from None
                self.fds.append(fd)
                try:
                    self.maps.append(mmap.mmap(fd, page + self.size, mmap.MAP_SHARED,
                                               mmap.PROT_READ | mmap.PROT_WRITE))
                except OSError as exc:
                    raise Unavailable(f"the kernel would not map a {self.size // 1024} KiB buffer per CPU "
                                      f"({os.strerror(exc.errno or 0)}): too much locked memory for this user",
                                      "raise kernel.perf_event_mlock_kb or RLIMIT_MEMLOCK") from None
            if not self.fds:
                raise Unavailable("no CPU accepted a perf event")
        except BaseException:
            self.close()
            raise

    def enable(self) -> None:
        import fcntl
        for fd in self.fds:
            fcntl.ioctl(fd, IOC_ENABLE, 0)

    def read(self) -> list[bytes]:
        """The records written since the last read, a chunk per CPU's buffer in its order; advances data_tail.

        data_head is the kernel's, published once the records before it are whole: all are taken.
        x86-64 keeps loads in order, so the data read below is not older than it; on arm64, where a
        reader in C puts a read barrier here (uftrace: rmb()), a record could in principle read stale.
        """
        chunks: list[bytes] = []
        for buffer in self.maps:
            head = struct.unpack_from("<Q", buffer, DATA_HEAD)[0]
            tail = struct.unpack_from("<Q", buffer, DATA_TAIL)[0]
            if head == tail:
                continue
            view = memoryview(buffer)[mmap.PAGESIZE:mmap.PAGESIZE + self.size]
            try:
                chunks.append(unwrap(view, tail, head))
            finally:
                view.release()
            struct.pack_into("<Q", buffer, DATA_TAIL, head)
        return chunks

    def close(self) -> None:
        for buffer in self.maps:
            try:
                buffer.close()
            except BufferError:
                pass
        for fd in self.fds:
            os.close(fd)
        self.maps, self.fds = [], []
