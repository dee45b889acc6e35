"""ReleaseInventory task (compensation): give back exactly what the order holds, exactly once."""

from __future__ import annotations

from typing import Any

from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.store import release

log = get_logger(__name__)


@runtime.task
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input `{"orderId"}`; output `{"released": bool, "reservationState", "restored": {productId: units}}`."""
    order_id = runtime.order_id_of(event)
    settings = runtime.settings()
    result = release(
        runtime.client("dynamodb"), settings.orders_table, settings.inventory_table, order_id, runtime.utc_now()
    )
    log.info("reservation released", extra={"orderId": order_id, **result})
    return result
