"""Payment gateways behind one interface, chosen by the `paymentGateway` runtime parameter.

`local` is a deterministic sandbox: its answer depends only on the payment token and the attempt
number, like a card network's test cards, so the workflow's paths are reproducible without sleeps
or randomness:

    tok_decline...      declined (reason: card_declined)
    tok_transient_<n>   TransientPaymentError on attempts 0..n-1, captured from attempt n
    any other token     captured

Every charge carries the order id as idempotency key, so a retried charge never charges twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

PaymentStatus = Literal["CAPTURED", "DECLINED"]


class TransientPaymentError(Exception):
    """The gateway could not answer now (timeout, 5xx): safe to retry with the same idempotency key."""


@dataclass(frozen=True)
class PaymentRequest:
    order_id: str
    amount: Decimal
    currency: str
    payment_token: str
    attempt: int = 0

    @property
    def idempotency_key(self) -> str:
        return self.order_id


@dataclass(frozen=True)
class PaymentOutcome:
    status: PaymentStatus
    transaction_id: str | None = None
    reason: str | None = None


class PaymentGateway(Protocol):
    def charge(self, request: PaymentRequest) -> PaymentOutcome:
        """Capture the amount, or decline it; raise TransientPaymentError when the answer is unknown."""
        ...


_TRANSIENT = re.compile(r"^tok_transient_(\d+)$")


class LocalGateway:
    """Deterministic sandbox gateway (see module docstring). Never moves money."""

    def charge(self, request: PaymentRequest) -> PaymentOutcome:
        token = request.payment_token
        if token.startswith("tok_decline"):
            return PaymentOutcome("DECLINED", reason="card_declined")
        transient = _TRANSIENT.match(token)
        if transient and request.attempt < int(transient.group(1)):
            raise TransientPaymentError(f"gateway timeout on attempt {request.attempt} for order {request.order_id}")
        digest = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:20]
        return PaymentOutcome("CAPTURED", transaction_id=f"txn_{digest}")


GATEWAYS: dict[str, type[PaymentGateway]] = {"local": LocalGateway}


def gateway_named(name: str) -> PaymentGateway:
    """The configured gateway; an unknown name is a deployment error, reported with the choices."""
    try:
        return GATEWAYS[name]()
    except KeyError:
        raise ValueError(f"paymentGateway={name!r} is not a known gateway; choose one of {sorted(GATEWAYS)}") from None
