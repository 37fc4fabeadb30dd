"""Where an async caller has new RSA keys made: worker threads of their own, one per core.

Owns the pool key generation runs in. Making an RSA key is tens to hundreds of milliseconds
of CPU that releases the GIL. In asyncio's default executor it would queue the sinks' file
reads and writes (a few milliseconds each, the same executor) behind it, and more generations
at once than cores only make each one slower. Must not name keys (`name_for_policy`) or keep
them anywhere.
"""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from mpctl.model import KeyPolicy
from mpctl.secrets.keys import UNNAMED, PrivateKey, generate_key


def pool_size() -> int:
    """The cores this process may run on (at least one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@functools.cache
def _key_pool() -> ThreadPoolExecutor:
    """The process's one key pool, made when the first key is asked for."""
    return ThreadPoolExecutor(max_workers=pool_size(), thread_name_prefix="mpctl-keygen")


async def generate_unnamed(policy: KeyPolicy, *, now: datetime) -> PrivateKey:
    """A fresh key of `policy`'s size and algorithm, made in the key pool, created `now`; its
    kid is `UNNAMED` until the caller names it."""
    make = functools.partial(
        generate_key, kid=UNNAMED, created_at=now, algorithm=policy.algorithm, size=policy.size
    )
    return await asyncio.get_running_loop().run_in_executor(_key_pool(), make)
