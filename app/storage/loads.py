"""One load per key however many ask at once: a class opening the same finished run together costs one read
of the database (or Redis), the others awaiting the same result."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Key = TypeVar("Key")
Value = TypeVar("Value")


class Loads(Generic[Key, Value]):
    def __init__(self) -> None:
        self._loading: dict[Key, asyncio.Future[Value]] = {}

    async def once(self, key: Key, load: Callable[[], Awaitable[Value]]) -> Value:
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.ensure_future(load())
            self._loading[key] = loading
            loading.add_done_callback(lambda _: self._loading.pop(key, None))
        return await asyncio.shield(loading)  # one asker leaving does not cancel the load for the others
