"""A payment gateway's HTTP API on 127.0.0.1, answering as the sandbox gateway does.

POST /charges with the API key header and `{orderId, amount, currency, paymentReference}`: 200
`{status, transactionId, reason}` from LocalGateway. Like a real gateway it keeps the answer per
idempotency key (the order id), so a retried charge answers the same; `tok_transient_<n>` answers
503 to the first n calls of an order. Counts what it received, for the tests.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from handlers.order_workflow.gateway import LocalGateway, PaymentRequest, TransientPaymentError

API_KEY_HEADER = "x-api-key"  # pragma: allowlist secret


class SandboxGateway:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.calls: Counter[str] = Counter()
        self.answers: dict[str, dict[str, Any]] = {}
        self.bodies: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def charge(self, headers: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if headers.get(API_KEY_HEADER) != self.api_key:
            return 401, {"message": "bad API key"}
        key = headers.get("Idempotency-Key") or ""
        with self._lock:
            self.bodies.append(body)
            attempt = self.calls[key]
            self.calls[key] += 1
            if key in self.answers:
                return 200, self.answers[key]
        request = PaymentRequest(key, Decimal(body["amount"]), body["currency"], body["paymentReference"], attempt)
        try:
            outcome = LocalGateway().charge(request)
        except TransientPaymentError as error:
            return 503, {"message": str(error)}
        answer = {"status": outcome.status, "transactionId": outcome.transaction_id, "reason": outcome.reason}
        with self._lock:
            self.answers[key] = answer
        return 200, answer


@contextmanager
def sandbox_gateway_server(api_key: str) -> Iterator[tuple[str, SandboxGateway]]:
    gateway = SandboxGateway(api_key)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            status, answer = gateway.charge(self.headers, body) if self.path == "/charges" else (404, {})
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", gateway
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
