"""Pure rules: order validation with exact money, and the deterministic gateway."""

from __future__ import annotations

from decimal import Decimal

import pytest

from handlers.order_workflow.gateway import (
    LocalGateway,
    PaymentRequest,
    RefundRequest,
    TransientPaymentError,
    gateway_named,
)
from handlers.order_workflow.orders import InvalidOrder, parse_order


def raw(**overrides: object) -> dict[str, object]:
    order: dict[str, object] = {
        "orderId": "o-1",
        "customerId": "C1",
        "paymentReference": "tok_visa",
        "items": [
            {"productId": "LAPTOP001", "quantity": 1, "price": 999.99},
            {"productId": "MOUSE001", "quantity": 3, "price": 0.1},
        ],
        "totalAmount": 1000.29,
    }
    order.update(overrides)
    return order


def test_total_is_checked_to_the_cent_with_decimal() -> None:
    # 999.99 + 3 * 0.1 is 1000.2900000000001 in floats; in Decimal it is exactly 1000.29.
    order = parse_order(raw())
    assert order.total_amount == Decimal("1000.29")
    assert order.to_json()["totalAmount"] == "1000.29"
    with pytest.raises(InvalidOrder, match=r"order.totalAmount: 1000.30 does not equal the sum of the items, 1000.29"):
        parse_order(raw(totalAmount=1000.30))


def test_every_problem_is_named_with_its_field() -> None:
    with pytest.raises(InvalidOrder) as caught:
        parse_order(
            {
                "orderId": "bad id!",
                "items": [
                    {"productId": "", "quantity": 0, "price": -1},
                    {"productId": "P", "quantity": True, "price": "1.001"},
                ],
            }
        )
    problems = caught.value.problems
    assert any(p.startswith("order.orderId:") for p in problems)
    assert "order.customerId: required" in problems
    assert "order.paymentReference: required" in problems
    assert "order.totalAmount: required" in problems
    for field in ("items[0].productId", "items[0].quantity", "items[0].price", "items[1].quantity", "items[1].price"):
        assert any(p.startswith(f"order.{field}:") for p in problems), field


@pytest.mark.parametrize("items", [[], None, "x"])
def test_items_must_be_a_non_empty_list(items: object) -> None:
    with pytest.raises(InvalidOrder, match=r"order\.items: must be a non-empty list"):
        parse_order(raw(items=items))


def test_same_product_on_two_lines_is_reserved_as_one_quantity() -> None:
    order = parse_order(
        raw(
            items=[{"productId": "A", "quantity": 2, "price": 1}, {"productId": "A", "quantity": 3, "price": 1}],
            totalAmount=5,
        )
    )
    assert order.quantities() == {"A": 5}


def test_fingerprint_tells_resubmission_from_a_different_order() -> None:
    assert parse_order(raw()).fingerprint() == parse_order(raw()).fingerprint()
    assert parse_order(raw()).fingerprint() != parse_order(raw(customerId="C2")).fingerprint()


def _request(token: str, attempt: int = 0) -> PaymentRequest:
    return PaymentRequest("o-1", Decimal("10.00"), "USD", token, attempt)


def test_local_gateway_is_deterministic() -> None:
    gateway = LocalGateway()
    first, second = gateway.charge(_request("tok_visa")), gateway.charge(_request("tok_visa", attempt=3))
    assert first == second and first.status == "CAPTURED" and first.transaction_id.startswith("txn_")
    assert gateway.charge(_request("tok_decline_x")).status == "DECLINED"
    for attempt in (0, 1):
        with pytest.raises(TransientPaymentError):
            gateway.charge(_request("tok_transient_2", attempt))
    assert gateway.charge(_request("tok_transient_2", 2)).status == "CAPTURED"


def test_unknown_gateway_is_a_clear_error() -> None:
    choices = r"choose one of \['external', 'http', 'local'\]"
    with pytest.raises(ValueError, match=rf"paymentGateway='stripe' is not a known gateway; {choices}"):
        gateway_named("stripe")


def test_an_external_gateway_never_claims_a_refund_it_did_not_make() -> None:
    refund = gateway_named("external").refund(RefundRequest("o-1", Decimal("1.00"), "USD", "txn", "pm_ref"))
    assert refund.status == "REJECTED" and "refund it in its console" in (refund.reason or "")


@pytest.mark.parametrize("amount", [1e30, "1e999999999", "99999999999.99"])
def test_huge_amounts_are_invalid_orders_not_decimal_errors(amount: object) -> None:
    with pytest.raises(InvalidOrder, match=r"order\.items\[0\]\.price: must be at most 1000000000\.00"):
        parse_order(raw(items=[{"productId": "A", "quantity": 1, "price": amount}], totalAmount=1))


def test_units_of_one_product_are_capped_over_all_its_lines() -> None:
    lines = [{"productId": "A", "quantity": 6_000, "price": 1}, {"productId": "A", "quantity": 6_000, "price": 1}]
    with pytest.raises(InvalidOrder, match=r"order\.items: 12000 units of 'A' over all lines; at most 10000"):
        parse_order(raw(items=lines, totalAmount=12_000))


def test_keys_over_dynamodbs_size_are_invalid_and_the_echo_is_cut() -> None:
    with pytest.raises(InvalidOrder) as caught:
        parse_order(
            raw(customerId="C" * 3000, items=[{"productId": "é" * 1100, "quantity": 1, "price": 1}], totalAmount=1)
        )
    problems = caught.value.problems
    assert "order.customerId: 3000 bytes; DynamoDB keys hold at most 2048" in problems
    assert "order.items[0].productId: 2200 bytes; DynamoDB keys hold at most 2048" in problems
    assert all(len(p) < 200 for p in problems)


def test_a_card_token_is_refused_the_order_carries_a_payment_reference() -> None:
    order = raw()
    order["paymentToken"] = "tok_4242424242424242"
    with pytest.raises(InvalidOrder, match=r"order\.paymentToken: not accepted; send the gateway's paymentReference"):
        parse_order(order)
    assert parse_order(raw()).to_json()["paymentReference"] == "tok_visa"


def test_local_gateway_refunds_once_per_order_and_can_refuse() -> None:
    gateway = LocalGateway()
    refund = RefundRequest("o-1", Decimal("10.00"), "USD", "txn_1", "tok_visa")
    assert gateway.refund(refund) == gateway.refund(refund)
    assert gateway.refund(refund).status == "REFUNDED" and refund.idempotency_key == "refund:o-1"
    refused = gateway.refund(RefundRequest("o-2", Decimal("1.00"), "USD", "txn_2", "tok_norefund_x"))
    assert (refused.status, refused.reason) == ("REJECTED", "refund_not_allowed")
