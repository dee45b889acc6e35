"""Payment gateways behind one interface, chosen by the `paymentGateway` runtime parameter.

The order carries a payment reference (what the shop front got from the gateway when the customer
entered the card), never the card token: the order travels through the bus archive and the
execution history.

`local` is a deterministic sandbox: its answer depends only on the payment reference and the
attempt number, like a card network's test cards, so the workflow's paths are reproducible without
sleeps or randomness:

    tok_decline...        declined (reason: card_declined)
    tok_transient_<n>     TransientPaymentError on attempts 0..n-1, captured from attempt n
    tok_norefund...       captured, but every refund is rejected (reason: refund_not_allowed)
    any other reference   captured; refunds succeed

Every charge carries the order id as idempotency key and every refund `refund:<order id>`, so a
retried call never charges or refunds twice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

PaymentStatus = Literal["CAPTURED", "DECLINED"]
RefundStatus = Literal["REFUNDED", "REJECTED"]


class TransientPaymentError(Exception):
    """The gateway could not answer now (timeout, 5xx): safe to retry with the same idempotency key."""


@dataclass(frozen=True)
class PaymentRequest:
    order_id: str
    amount: Decimal
    currency: str
    payment_reference: str
    attempt: int = 0

    @property
    def idempotency_key(self) -> str:
        return self.order_id


@dataclass(frozen=True)
class RefundRequest:
    """Give back the whole captured amount of one order."""

    order_id: str
    amount: Decimal
    currency: str
    transaction_id: str
    payment_reference: str

    @property
    def idempotency_key(self) -> str:
        return f"refund:{self.order_id}"


@dataclass(frozen=True)
class RefundOutcome:
    status: RefundStatus
    refund_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class PaymentOutcome:
    status: PaymentStatus
    transaction_id: str | None = None
    reason: str | None = None


class PaymentGateway(Protocol):
    def charge(self, request: PaymentRequest) -> PaymentOutcome:
        """Capture the amount, or decline it; raise TransientPaymentError when the answer is unknown."""
        ...

    def refund(self, request: RefundRequest) -> RefundOutcome:
        """Give the captured amount back, or say why it cannot be; TransientPaymentError when unknown."""
        ...


_TRANSIENT = re.compile(r"^tok_transient_(\d+)$")


class LocalGateway:
    """Deterministic sandbox gateway (see module docstring). Never moves money."""

    def charge(self, request: PaymentRequest) -> PaymentOutcome:
        reference = request.payment_reference
        if reference.startswith("tok_decline"):
            return PaymentOutcome("DECLINED", reason="card_declined")
        transient = _TRANSIENT.match(reference)
        if transient and request.attempt < int(transient.group(1)):
            raise TransientPaymentError(f"gateway timeout on attempt {request.attempt} for order {request.order_id}")
        return PaymentOutcome("CAPTURED", transaction_id=f"txn_{_digest(request.idempotency_key)}")

    def refund(self, request: RefundRequest) -> RefundOutcome:
        if request.payment_reference.startswith("tok_norefund"):
            return RefundOutcome("REJECTED", reason="refund_not_allowed")
        return RefundOutcome("REFUNDED", refund_id=f"rf_{_digest(request.idempotency_key)}")


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:20]


class ExternalGateway:
    """A real gateway that no function talks to: `http` (the state machine charges it with an HTTP
    Task through the gateway connection, whose API key no function can read) and `external` (the
    callback variant's gateway, reached through the API destination). No refund API is wired for
    them yet, so a refund is handed to an operator: REJECTED with that reason goes to the
    reconciliation queue, which alarms. Never the sandbox: a refund is never claimed that no gateway
    made."""

    def charge(self, request: PaymentRequest) -> PaymentOutcome:
        raise RuntimeError(f"order {request.order_id}: the external gateway is not charged by a function")

    def refund(self, request: RefundRequest) -> RefundOutcome:
        return RefundOutcome("REJECTED", reason="no refund API wired for the gateway: refund it in its console")


GATEWAYS: dict[str, type[PaymentGateway]] = {
    "external": ExternalGateway,
    "http": ExternalGateway,
    "local": LocalGateway,
}


def gateway_named(name: str) -> PaymentGateway:
    """The configured gateway; an unknown name is a deployment error, reported with the choices."""
    try:
        return GATEWAYS[name]()
    except KeyError:
        raise ValueError(f"paymentGateway={name!r} is not a known gateway; choose one of {sorted(GATEWAYS)}") from None
