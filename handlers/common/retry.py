"""Bounded retries with full-jitter exponential backoff for throttled AWS calls."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TooManyRequestsException",
        "LimitExceededException",
    }
)


def is_throttle(error: BaseException) -> bool:
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in THROTTLING_CODES


def with_backoff(
    call: Callable[[], T],
    *,
    attempts: int = 5,
    base_delay: float = 0.05,
    max_delay: float = 2.0,
    retryable: Callable[[BaseException], bool] = is_throttle,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `call`, retrying retryable errors up to `attempts` times; the last error propagates."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as error:
            if attempt == attempts or not retryable(error):
                raise
            sleep(random.uniform(0, min(max_delay, base_delay * 2 ** (attempt - 1))))  # noqa: S311 - jitter, not crypto
    raise AssertionError("unreachable")
