"""Vendor SDK loggers that would print secrets, kept quiet.

Owns `quiet_loggers`: some SDKs log whole request and response bodies at DEBUG (botocore does),
and those bodies hold private keys; raising their loggers to INFO, for the whole process, keeps
them out of any log mpctl or its caller configures. Must not configure handlers or formats.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable


def quiet_loggers(roots: Iterable[str]) -> None:
    """Raise each root logger named, and its existing children, to INFO (never lower one)."""
    wanted = frozenset(roots)
    children = [name for name in logging.root.manager.loggerDict if name.split(".", 1)[0] in wanted]
    for name in {*wanted, *children}:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
