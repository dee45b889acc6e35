"""ValidateOrder task: check the order and store it once (idempotent on the order id)."""

from __future__ import annotations

from typing import Any

from handlers.common.log import get_logger
from handlers.order_workflow import runtime
from handlers.order_workflow.orders import parse_order
from handlers.order_workflow.store import create_order

log = get_logger(__name__)


def execution_running(sfn: Any, execution_arn: str) -> bool:
    """Whether the execution that owns an order can still carry it on by itself. A stopped one
    (failed past its redrives, timed out, aborted) or an unknown one cannot."""
    if not execution_arn:
        return False
    try:
        return sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    except (sfn.exceptions.ExecutionDoesNotExist, sfn.exceptions.InvalidArn):
        return False


@runtime.task
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input `{"order": {...}, "executionId": "..."}`; output `{"order": <normalised>, "submission": ...}`.

    Raises InvalidOrder (every problem named), OrderConflict or DuplicateOrder: the state machine
    catches them by these names. An order whose execution stopped without finishing it is taken over
    (`submission` TAKEN_OVER): every later step is idempotent per order, so it completes once."""
    order = parse_order(event.get("order"))
    settings = runtime.settings()
    sfn = runtime.client("stepfunctions")
    submission = create_order(
        runtime.client("dynamodb"),
        settings.orders_table,
        order,
        str(event.get("executionId", "")),
        runtime.utc_now(),
        owner_running=lambda owner: execution_running(sfn, owner),
    )
    log.info("order validated", extra={"orderId": order.order_id, "submission": submission})
    return {"order": order.to_json(), "submission": submission}
