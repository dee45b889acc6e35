"""ReserveInventory task: take every line's stock in one conditional transaction, or none of it."""

from __future__ import annotations

from typing import Any

from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.store import reserve

log = get_logger(__name__)


@runtime.task
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input `{"orderId"}`; output `{"status": "RESERVED" | "INSUFFICIENT", "shortages": [...]}`.

    The lines come from the stored order, never from the task input, so what is reserved is exactly
    what was validated and what release later gives back."""
    order_id = runtime.order_id_of(event)
    settings = runtime.settings()
    result = reserve(
        runtime.client("dynamodb"), settings.orders_table, settings.inventory_table, order_id, runtime.utc_now()
    )
    log.info("reservation", extra={"orderId": order_id, **result.to_json()})
    return result.to_json()
