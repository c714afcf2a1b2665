"""The lab's secret, the key that signs its client cookies (app/web/clients.py): made once and kept, so a
cookie the lab gave stays good across restarts, and shared, so every web replica accepts it.

`LAB_SECRET` if it is set; else a random one made the first time, kept beside the database (`<database>.secret`,
readable by its owner only) in an embedded lab, or in Redis (`lab:secret`) in a distributed one, where the
first replica to start sets it and the others read it. A database in memory keeps its secret in memory too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from redis.asyncio import Redis

from app.storage.redis_formats import SECRET

SECRET_BYTES = 32


def secret_file(database: str) -> Path | None:
    """Where an embedded lab keeps its secret: beside its database (None for one in memory)."""
    return None if database == ":memory:" else Path(f"{database}.secret")


def file_secret(path: Path | None) -> bytes:
    """The secret kept in `path`, made first if there is none. Two servers starting at once on one database
    agree: the file appears whole (a hard link of one written aside) or not at all, and the second reads it."""
    if path is None:
        return secrets.token_bytes(SECRET_BYTES)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(SECRET_BYTES) + "\n")
        try:
            with contextlib.suppress(FileExistsError):  # another server made it first: its secret is the one
                os.link(aside, path)
        finally:
            aside.unlink()
    return bytes.fromhex(path.read_text().strip())


async def redis_secret(redis: Redis) -> bytes:
    """The distributed lab's secret: set by the first replica (SET NX), read by every one."""
    await redis.set(SECRET, secrets.token_hex(SECRET_BYTES), nx=True)
    value = await redis.get(SECRET)
    assert isinstance(value, bytes), "lab:secret was just set"
    return bytes.fromhex(value.decode())
