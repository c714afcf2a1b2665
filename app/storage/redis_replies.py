"""What Redis answers, checked and typed at the boundary. Pure.

redis-py types a reply as whatever any client could answer (bytes or str, RESP2 or RESP3 shapes, nil);
the lab's clients are made without decode_responses and speak RESP2. Each reply is checked once, here,
and what does not fit is a TypeError saying what came, never a wrong value passed on. (What the lab
keeps in Redis, key names and documents: app/storage/redis_formats.py.)
"""

from __future__ import annotations

Fields = dict[bytes, bytes]  # a stream entry's fields


def entries_of(reply: object) -> list[tuple[bytes, Fields]]:
    """The entries of an XRANGE, XREVRANGE or XCLAIM reply (or of one stream of an XREADGROUP reply): (id,
    fields), in order. nil is no entries; an entry answered nil (XCLAIM of one deleted while pending, before
    Redis 7) is left out."""
    if reply is None:
        return []
    if not isinstance(reply, list):
        raise TypeError(f"Redis answered {type(reply).__name__} where it gives a list of stream entries")
    entries = []
    for entry in reply:
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            raise TypeError(f"Redis answered {entry!r:.80} where it gives a stream entry (id, fields)")
        entry_id, fields = entry
        if entry_id is None and fields is None:  # redis-py's form of a nil entry
            continue
        entries.append((_bytes(entry_id, "an entry id"), _fields(fields)))
    return entries


def read_entries_of(reply: object) -> list[tuple[bytes, Fields]]:
    """The entries of an XREADGROUP (or XREAD) reply, of every stream it read, in order; nil is none."""
    if reply is None:
        return []
    if not isinstance(reply, list):  # a dict is RESP3's form, which the lab's clients do not speak
        raise TypeError(f"Redis answered {type(reply).__name__} where it gives a list of [stream, entries]")
    entries = []
    for stream in reply:
        if not isinstance(stream, (tuple, list)) or len(stream) != 2:
            raise TypeError(f"Redis answered {stream!r:.80} where it gives a stream's [name, entries]")
        entries.extend(entries_of(stream[1]))
    return entries


def pending_of(reply: object) -> list[tuple[bytes, str]]:
    """The entries of an XPENDING reply with a range (redis-py's dicts): (entry id, the consumer it is
    pending for)."""
    if not isinstance(reply, list):
        raise TypeError(f"Redis answered {type(reply).__name__} where it gives a list of pending entries")
    pending = []
    for entry in reply:
        if not isinstance(entry, dict):
            raise TypeError(f"Redis answered {entry!r:.80} where it gives a pending entry")
        pending.append(
            (
                _bytes(entry.get("message_id"), "a pending entry's id"),
                _bytes(entry.get("consumer"), "a pending entry's consumer").decode(),
            )
        )
    return pending


def last_delivered_of(reply: object, group: str) -> bytes:
    """The last-delivered-id of `group` in an XINFO GROUPS reply (redis-py's dicts); `0-0` (nothing delivered
    yet) if there is no such group."""
    if not isinstance(reply, list):
        raise TypeError(f"Redis answered {type(reply).__name__} where it gives a list of groups")
    for info in reply:
        if not isinstance(info, dict):
            raise TypeError(f"Redis answered {info!r:.80} where it gives a group's info")
        if _bytes(info.get("name"), "a group's name") == group.encode():
            return _bytes(info.get("last-delivered-id"), "a group's last-delivered-id")
    return b"0-0"


def members_of(reply: object) -> list[bytes]:
    """A set's members (SMEMBERS), sorted."""
    if not isinstance(reply, (set, list)):
        raise TypeError(f"Redis answered {type(reply).__name__} where it gives a set's members")
    return sorted(_bytes(member, "a set's member") for member in reply)


def keys_of(reply: object) -> list[bytes]:
    """A list of strings: members of a sorted set (ZREVRANGE)."""
    if not isinstance(reply, list):
        raise TypeError(f"Redis answered {type(reply).__name__} where it gives a list of strings")
    return [_bytes(key, "a key or member") for key in reply]


def values_of(reply: object) -> list[bytes | None]:
    """An MGET reply: each key's value, None where there is none."""
    if not isinstance(reply, list):
        raise TypeError(f"Redis answered {type(reply).__name__} where it gives a list of values")
    return [None if value is None else _bytes(value, "a value") for value in reply]


def value_of(reply: object) -> bytes | None:
    """A GET reply: the value, None if there is none."""
    return None if reply is None else _bytes(reply, "a value")


def count_of(reply: object) -> int:
    """A reply that is one integer (ZCARD, XLEN)."""
    if not isinstance(reply, int) or isinstance(reply, bool):
        raise TypeError(f"Redis answered {reply!r:.80} where it gives an integer")
    return reply


def text_of(reply: object) -> str:
    """A reply that is one string, e.g. the id of the entry XADD added."""
    return _bytes(reply, "a string").decode()


def _fields(fields: object) -> Fields:
    if not isinstance(fields, dict):
        raise TypeError(f"Redis answered {type(fields).__name__} where it gives a stream entry's fields")
    return {_bytes(name, "a field's name"): _bytes(value, "a field's value") for name, value in fields.items()}


def _bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(
            f"Redis answered {what} as {type(value).__name__} {value!r:.80}, not bytes "
            "(a client made with decode_responses?)"
        )
    return value
