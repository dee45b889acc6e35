"""Every boto3 client of the handlers, made in one place with one retry policy.

Retries happen once, inside botocore (`standard` mode: throttles and transient errors, exponential
backoff with jitter, a retry quota). Handlers never loop over errors themselves, so one throttled
call costs at most `CallPolicy.attempts` HTTP sends, never attempts x attempts. Each use declares its
own policy (attempts and connect/read timeouts), so its worst case is known: `worst_case_seconds()`.

Clients are cached per container (per service, region and policy): boto3 client creation costs tens
of milliseconds and is not thread-safe on the default session, so it happens once, under a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

# botocore's standard mode: the delay before retry i (1-based) is rand(0, 1) * min(base * 2**(i-1), 20 s),
# with base 1 s for throttling errors (the largest). See botocore.retries.standard.ExponentialBackoff.
THROTTLE_BACKOFF_BASE_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 20.0


@dataclass(frozen=True)
class CallPolicy:
    """How one use calls AWS: total HTTP attempts per call and per-attempt timeouts (seconds)."""

    attempts: int
    connect_timeout: float
    read_timeout: float
    pool_size: int = 10

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("connect_timeout and read_timeout must be positive")

    def config(self) -> Config:
        return Config(
            retries={"mode": "standard", "total_max_attempts": self.attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_pool_connections=self.pool_size,
        )

    def worst_backoff_seconds(self) -> float:
        """The longest botocore can sleep between the attempts of one call (throttling backoff)."""
        return sum(
            min(THROTTLE_BACKOFF_BASE_SECONDS * 2 ** (retry - 1), MAX_BACKOFF_SECONDS)
            for retry in range(1, self.attempts)
        )

    def worst_case_seconds(self) -> float:
        """Longest one call can take: every attempt waits out both timeouts, plus every backoff.

        The read timeout bounds each wait for bytes on the socket; a response that keeps trickling
        could exceed it, which AWS APIs of this size do not do.
        """
        return self.attempts * (self.connect_timeout + self.read_timeout) + self.worst_backoff_seconds()


_CLIENTS: dict[tuple[str, str | None, CallPolicy], Any] = {}
_LOCK = threading.Lock()


def client(service: str, policy: CallPolicy, *, region: str | None = None) -> Any:
    """The container's client for `service` under `policy` (created on first use)."""
    key = (service, region, policy)
    with _LOCK:
        found = _CLIENTS.get(key)
        if found is None:
            found = boto3.client(service, region_name=region, config=policy.config())
            _CLIENTS[key] = found
        return found


def clear_clients() -> None:
    """Forget every cached client, as a new container would (tests switch accounts and regions)."""
    with _LOCK:
        _CLIENTS.clear()
