"""Blocking work off the event loop, in a chosen thread pool."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")


async def in_thread(pool: Executor, fn: Callable[..., T], *args: Any) -> T:
    """`fn(*args)` in one of `pool`'s threads; the event loop goes on meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(pool, partial(fn, *args))
