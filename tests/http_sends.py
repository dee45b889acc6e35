"""Count (and throttle) the HTTP requests a boto3 client really sends, retries included.

`SendCounter` hooks botocore's `before-send` event, which fires once per HTTP attempt (after the
retry handler decided to try again), so it sees exactly what AWS would be billed and throttled for.
When it throttles, it answers instead of the network with the error body DynamoDB itself sends,
so botocore's own retry logic (standard mode) runs unchanged. The client must talk to a real moto
server (`moto_server()`): the in-process `mock_aws` answers every send as well, whatever we answer.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries import standard
from moto.moto_server.threaded_moto_server import ThreadedMotoServer


class _Body:
    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._payload


def dynamodb_throttle(url: str) -> AWSResponse:
    """What DynamoDB answers a throttled request (JSON protocol, HTTP 400)."""
    body = json.dumps(
        {
            "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "message": "The level of configured provisioned throughput for the table was exceeded.",
        }
    ).encode()
    headers = {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "THROTTLED0000000000000000000"}
    return AWSResponse(url, 400, headers, _Body(body))


class SendCounter:
    """Counts HTTP sends per operation; throttles the sends `throttle(operation, body)` picks."""

    def __init__(self, client: Any) -> None:
        self.sends: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self._rule: Callable[[str, dict[str, Any]], bool] = lambda _op, _body: False
        self._lock = threading.Lock()
        service = client.meta.service_model.service_id.hyphenize()
        client.meta.events.register_first(f"before-send.{service}", self._on_send)

    def throttle_when(self, rule: Callable[[str, dict[str, Any]], bool]) -> None:
        self._rule = rule

    def throttle_first(self, operation: str, count: int) -> None:
        """Throttle the first `count` sends of `operation`, then let them through."""
        left = {"n": count}

        def rule(op: str, _body: dict[str, Any]) -> bool:
            if op != operation or left["n"] <= 0:
                return False
            left["n"] -= 1
            return True

        self._rule = rule

    def _on_send(self, request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", "")
        operation = (target.decode() if isinstance(target, bytes) else str(target)).rpartition(".")[2]
        body = json.loads(request.body or b"{}")
        with self._lock:
            self.sends[operation] += 1
            if self._rule(operation, body):
                self.throttled[operation] += 1
                return dynamodb_throttle(request.url)
        return None


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free loopback port, for clients that must really send HTTP."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def no_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's computed backoff delays, recorded instead of slept (tests stay fast)."""
    delays: list[float] = []
    original = standard.ExponentialBackoff.delay_amount

    def record(self: standard.ExponentialBackoff, context: Any) -> float:
        delays.append(original(self, context))
        return 0.0

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", record)
    return delays
