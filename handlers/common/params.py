"""Runtime settings from SSM Parameter Store under the path the component grants (`PARAMETERS_PATH`)."""

from __future__ import annotations

import os
import time
from typing import Any

_CACHE: dict[str, tuple[float, dict[str, str]]] = {}
TTL_SECONDS = 300.0


def load_parameters(client: Any, path: str | None = None, *, now: float | None = None) -> dict[str, str]:
    """All parameters below `path` (decrypted), keyed by their name relative to it; cached for 5 min."""
    path = (path or os.environ["PARAMETERS_PATH"]).rstrip("/")
    moment = time.monotonic() if now is None else now
    cached = _CACHE.get(path)
    if cached and moment - cached[0] < TTL_SECONDS:
        return cached[1]
    values: dict[str, str] = {}
    for page in client.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True, WithDecryption=True):
        for parameter in page["Parameters"]:
            values[parameter["Name"][len(path) + 1 :]] = parameter["Value"]
    _CACHE[path] = (moment, values)
    return values


def clear_cache() -> None:
    """Forget cached parameters, as a new container would (tests, or after a deliberate change)."""
    _CACHE.clear()
