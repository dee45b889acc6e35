"""ValidateOrder task: check the order and store it once (idempotent on the order id)."""

from __future__ import annotations

from typing import Any

from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.orders import parse_order
from handlers.order_workflow.store import create_order

log = get_logger(__name__)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input `{"order": {...}, "executionId": "..."}`; output `{"order": <normalised>, "submission": ...}`.

    Raises InvalidOrder (every problem named), OrderConflict or DuplicateOrder: the state machine
    catches them by these names."""
    order = parse_order(event.get("order"))
    settings = runtime.settings()
    submission = create_order(
        runtime.client("dynamodb"), settings.orders_table, order, str(event.get("executionId", "")), runtime.utc_now()
    )
    log.info("order validated", extra={"orderId": order.order_id, "submission": submission})
    return {"order": order.to_json(), "submission": submission}
