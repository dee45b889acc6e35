"""The order as the workflow sees it: parsed and checked once, with exact (Decimal) money.

Pure functions only: no AWS calls, so every rule is unit-tested directly.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

ORDER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
CENT = Decimal("0.01")
# A reservation is one DynamoDB transaction: the order item plus one item per product (limit 100).
MAX_PRODUCTS = 99
# Per product over all its lines: the units one order may take of one product.
MAX_QUANTITY = 10_000
# Larger amounts are typos or attacks; the cap also keeps every sum exact within Decimal's precision.
MAX_AMOUNT = Decimal("1000000000.00")
# DynamoDB refuses key values over 2048 bytes (UTF-8): customerId keys the CustomerIndex, productId the inventory.
MAX_KEY_BYTES = 2048


class InvalidOrder(ValueError):  # noqa: N818 - the class name is the Step Functions error name
    """The order cannot be processed; the message lists every problem with the field it concerns."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class Order:
    order_id: str
    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]
    total_amount: Decimal
    payment_reference: str

    def quantities(self) -> dict[str, int]:
        """Units per product: the same product on two lines is reserved once, summed."""
        return _units_per_product(self.lines)

    def fingerprint(self) -> str:
        """Stable digest of the order's content: tells a resubmission from a different order with the same id."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """JSON for the state machine: money as strings so no float ever touches it."""
        return {
            "orderId": self.order_id,
            "customerId": self.customer_id,
            "currency": self.currency,
            "totalAmount": str(self.total_amount),
            "paymentReference": self.payment_reference,
            "items": [
                {"productId": line.product_id, "quantity": line.quantity, "price": str(line.unit_price)}
                for line in self.lines
            ],
        }


def _units_per_product(lines: Sequence[OrderLine]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.product_id] = totals.get(line.product_id, 0) + line.quantity
    return dict(sorted(totals.items()))


def _text(raw: dict[str, Any], key: str, problems: list[str], pattern: re.Pattern[str] | None = None) -> str:
    value = raw.get(key)
    if value is None:
        problems.append(f"order.{key}: required")
        return ""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"order.{key}: must be a non-empty string, got {_shown(value)}")
        return ""
    if pattern is not None and not pattern.match(value):
        problems.append(f"order.{key}: {_shown(value)} does not match {pattern.pattern}")
    elif len(value.encode()) > MAX_KEY_BYTES:
        problems.append(f"order.{key}: {len(value.encode())} bytes; DynamoDB keys hold at most {MAX_KEY_BYTES}")
    return value


def _shown(value: Any) -> str:
    """The rejected value for a message, cut so a megabyte of input does not become a megabyte of error."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def money(value: Any, where: str, problems: list[str]) -> Decimal | None:
    """A positive amount up to MAX_AMOUNT with at most two decimals. Floats are read through their
    shortest repr (what JSON meant), so 999.99 stays 999.99 rather than its binary approximation."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        problems.append(f"{where}: must be a number, got {_shown(value)}")
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        problems.append(f"{where}: must be a number, got {_shown(value)}")
        return None
    if not amount.is_finite() or amount <= 0:
        problems.append(f"{where}: must be greater than 0, got {_shown(value)}")
        return None
    if amount > MAX_AMOUNT:
        problems.append(f"{where}: must be at most {MAX_AMOUNT}, got {_shown(value)}")
        return None
    if amount != amount.quantize(CENT):
        problems.append(f"{where}: must have at most two decimals (cents), got {_shown(value)}")
        return None
    return amount.quantize(CENT)


def _line(raw: Any, index: int, problems: list[str]) -> OrderLine | None:
    where = f"order.items[{index}]"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be an object with productId, quantity and price")
        return None
    before = len(problems)
    product_id = raw.get("productId")
    if not isinstance(product_id, str) or not product_id.strip():
        problems.append(f"{where}.productId: must be a non-empty string, got {_shown(product_id)}")
    elif (size := len(product_id.encode())) > MAX_KEY_BYTES:
        problems.append(f"{where}.productId: {size} bytes; DynamoDB keys hold at most {MAX_KEY_BYTES}")
    quantity = raw.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= MAX_QUANTITY:
        problems.append(f"{where}.quantity: must be an integer from 1 to {MAX_QUANTITY}, got {_shown(quantity)}")
    price = money(raw.get("price"), f"{where}.price", problems)
    if len(problems) > before or price is None:
        return None
    return OrderLine(product_id=product_id, quantity=quantity, unit_price=price)


def parse_order(raw: Any) -> Order:
    """Check everything the workflow relies on and return the normalised order, or raise InvalidOrder."""
    if not isinstance(raw, dict):
        raise InvalidOrder([f"order: must be an object, got {type(raw).__name__}"])
    problems: list[str] = []
    order_id = _text(raw, "orderId", problems, ORDER_ID)
    customer_id = _text(raw, "customerId", problems)
    payment_reference = _text(raw, "paymentReference", problems)
    if "paymentToken" in raw:
        # The order travels through the bus archive and the execution history: a card token must not.
        problems.append("order.paymentToken: not accepted; send the gateway's paymentReference instead")
    currency = raw.get("currency", "USD")
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        problems.append(f"order.currency: must be an ISO 4217 code such as USD, got {_shown(currency)}")
    items = raw.get("items")
    lines: list[OrderLine] = []
    if not isinstance(items, list) or not items:
        problems.append(f"order.items: must be a non-empty list, got {items!r}")
    else:
        lines = [line for i, item in enumerate(items) if (line := _line(item, i, problems)) is not None]
        if len({line.product_id for line in lines}) > MAX_PRODUCTS:
            problems.append(f"order.items: at most {MAX_PRODUCTS} different products per order")
        problems.extend(
            f"order.items: {units} units of {_shown(product)} over all lines; at most {MAX_QUANTITY} per product"
            for product, units in _units_per_product(lines).items()
            if units > MAX_QUANTITY
        )
    total = money(raw.get("totalAmount"), "order.totalAmount", problems) if "totalAmount" in raw else None
    if "totalAmount" not in raw:
        problems.append("order.totalAmount: required")
    if total is not None and lines and len(lines) == len(items):
        expected = sum((line.amount for line in lines), Decimal("0"))
        if expected != total:
            problems.append(f"order.totalAmount: {total} does not equal the sum of the items, {expected}")
    if problems or total is None:
        raise InvalidOrder(problems or ["order.totalAmount: required"])
    return Order(order_id, customer_id, currency, tuple(lines), total, payment_reference)


def order_from_item(item: dict[str, Any]) -> Order:
    """Rebuild the order from its stored item (attributes as written by `order_item`)."""
    return Order(
        order_id=item["orderId"],
        customer_id=item["customerId"],
        currency=item["currency"],
        lines=tuple(
            OrderLine(line["productId"], int(line["quantity"]), Decimal(line["price"])) for line in item["items"]
        ),
        total_amount=Decimal(item["totalAmount"]),
        payment_reference=item["paymentReference"],
    )
