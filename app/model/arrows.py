"""Arrows: pairing a `notify` instant with the `woken` one it caused. Pure.

Paired by what happened, not by the order events arrive in: two processes' events reach the server as
their recorders flush them, so a consumer's `got 'Item-2'` may come before the producer's `put 'Item-2'`.
A notify and a woken that carry a key (the item a Queue handed over) pair with each other only, whichever
comes first; one without waits for a partner that comes later. Pairing depends on the events alone.
(app/model/timeline.py draws each pair as an Arrow.)
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import deque
from typing import Any

NOTIFIES_KEPT = 1024  # notifies (and wokens) held for a partner, of each sort: older ones never pair in practice
LAST_LANE = 1 << 62  # above any lane index: (ts, LAST_LANE) sorts after every (ts, lane)

Pair = tuple[int, int, int, int]  # from_lane, from_ns, to_lane, to_ns


class Unpaired:
    """Keyed notifies, or keyed wokens, still waiting for their partner: (ts, lane) by key, in arrival order.

    At most NOTIFIES_KEPT in all; past that the oldest entry of the longest-held key goes (in
    practice a put whose item was taken without a wait, so no woken will ever come for it).
    """

    __slots__ = ("by_key", "count")

    def __init__(self) -> None:
        self.by_key: dict[str, list[tuple[int, int]]] = {}
        self.count = 0

    def add(self, key: str, ts: int, lane: int) -> None:
        self.by_key.setdefault(key, []).append((ts, lane))
        self.count += 1
        if self.count > NOTIFIES_KEPT:
            self._take(next(iter(self.by_key)), 0)

    def take(self, key: str, lane: int, not_before: int = 0, not_after: int = 1 << 62) -> tuple[int, int] | None:
        """The earliest entry of `key` on another lane than `lane`, within the times given, taken out.

        The earliest: a queue is first in, first out, so among equal items the first put is the first got.
        """
        entries = self.by_key.get(key)
        if not entries:
            return None
        best = -1
        for i, (ts, other) in enumerate(entries):
            if other != lane and not_before <= ts <= not_after and (best < 0 or ts < entries[best][0]):
                best = i
        return None if best < 0 else self._take(key, best)

    def _take(self, key: str, i: int) -> tuple[int, int]:
        entries = self.by_key[key]
        entry = entries.pop(i)
        if not entries:
            del self.by_key[key]
        self.count -= 1
        return entry


class Pairing:
    """What pairing remembers: notifies without a key as (ts, lane), sorted (a notify_all wakes several
    waiters, so these stay); wokens that came before any notify that could have woken them; keyed
    notifies and wokens waiting for the partner of the same key."""

    __slots__ = ("notifies", "early_wokens", "keyed_notifies", "keyed_wokens")

    def __init__(self) -> None:
        self.notifies: list[tuple[int, int]] = []
        self.early_wokens: deque[tuple[int, int]] = deque(maxlen=NOTIFIES_KEPT)
        self.keyed_notifies = Unpaired()
        self.keyed_wokens = Unpaired()

    def pair(self, lane: int, ts: int, name: str, category: str, key: Any) -> list[Pair]:
        """A notify or a woken came: the pairs it completes, notify first, whichever of the two came first."""
        if key is None and name[:4] in ("put ", "got "):
            key = name[4:]  # a Queue's log from before its items carried keys: the item's repr identifies it
        if key is not None:
            if category == "notify":
                woken = self.keyed_wokens.take(key, lane, not_before=ts)
                if woken is None:
                    self.keyed_notifies.add(key, ts, lane)
                    return []
                return [(lane, ts, woken[1], woken[0])]
            notify = self.keyed_notifies.take(key, lane, not_after=ts)
            if notify is None:
                self.keyed_wokens.add(key, ts, lane)
                return []
            return [(notify[1], notify[0], lane, ts)]
        if category == "notify":
            insort(self.notifies, (ts, lane))
            if len(self.notifies) > NOTIFIES_KEPT:
                del self.notifies[0]
            pairs: list[Pair] = []
            if self.early_wokens:  # woken ones that came first, if this notify is before them
                early, self.early_wokens = self.early_wokens, deque(maxlen=NOTIFIES_KEPT)
                for woken_ns, woken_lane in early:
                    if woken_lane != lane and woken_ns >= ts:
                        pairs.append((lane, ts, woken_lane, woken_ns))
                    else:
                        self.early_wokens.append((woken_ns, woken_lane))
            return pairs
        # Whoever notified last before this wait returned (on another lane) woke it. A
        # notify_all wakes several waiters, so one notify can start several arrows.
        notifies = self.notifies
        i = bisect_right(notifies, (ts, LAST_LANE))
        while i:
            i -= 1
            notify_ns, notify_lane = notifies[i]
            if notify_lane != lane:
                return [(notify_lane, notify_ns, lane, ts)]
        self.early_wokens.append((ts, lane))  # its notify has not come yet
        return []
