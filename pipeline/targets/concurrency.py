"""Bounded concurrent reads, shared by the targets that read one model per request."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def map_concurrently(function: Callable[[Item], Result], items: Sequence[Item], workers: int,
                     thread_name_prefix: str) -> list[Result]:
    """Apply ``function`` to every item on at most ``workers`` threads and return the results in order.

    The first error is raised once the reads already running have finished;
    the reads not started yet are cancelled.
    """
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items)), thread_name_prefix=thread_name_prefix) as pool:
        futures = [pool.submit(function, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise
