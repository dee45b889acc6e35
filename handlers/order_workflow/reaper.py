"""Scheduled reaper: stock held by an order whose execution has failed for good goes back on sale.

An order holds units (reservationState HELD) only while an execution can still carry it on. When an
outage outlasts a task's retries the execution fails at that task; the redrive rule redrives it up
to its bound, and an operator may still redrive it by hand. The reaper releases the hold only when
none of that can happen any more by itself:

* the owning execution is not RUNNING, has used up the automatic redrives (`maxAutoRedrives`), and
  stopped more than `reapAfterSeconds` ago (the operators' window for a manual redrive), or
* the owning execution does not exist and the reservation is older than `reapAfterSeconds`.

A captured payment is refunded first (once, keyed on the order; a refused refund goes to the
reconciliation queue), then the units are released, so an outage never leaves units unsellable or
money taken for good. A later manual redrive of such an execution finds the order released and ends
at its business outcome (nothing is charged or shipped twice).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from handlers.common.log import get_logger
from handlers.common.params import load_parameters
from handlers.order_workflow import runtime
from handlers.order_workflow.gateway import gateway_named
from handlers.order_workflow.refund import reconciliation_queue_url
from handlers.order_workflow.refunds import refund_order, send_to_reconciliation
from handlers.order_workflow.store import held_orders, release

log = get_logger(__name__)
Verdict = Literal["keep", "reap"]


@dataclass(frozen=True)
class ReaperSettings:
    reap_after: timedelta
    max_auto_redrives: int

    @classmethod
    def load(cls, path: str, parameters: Mapping[str, str]) -> ReaperSettings:
        values = {}
        for key in ("reapAfterSeconds", "maxAutoRedrives"):
            raw = parameters.get(key)
            if raw is None or not raw.isdigit():
                raise runtime.SettingsError(f"{path}/{key} is {raw!r}; expected a whole number")
            values[key] = int(raw)
        if values["reapAfterSeconds"] <= 0:
            raise runtime.SettingsError(f"{path}/reapAfterSeconds must be positive")
        return cls(timedelta(seconds=values["reapAfterSeconds"]), values["maxAutoRedrives"])


def verdict(
    order: Mapping[str, Any], execution: Mapping[str, Any] | None, now: datetime, rules: ReaperSettings
) -> Verdict:
    """Pure decision for one HELD order, given DescribeExecution of its owner (None: no such execution)."""
    if execution is None:
        reserved_at = datetime.fromisoformat(str(order.get("reservedAt")))
        return "reap" if now - reserved_at > rules.reap_after else "keep"
    if execution["status"] == "RUNNING":
        return "keep"
    redrives_left = int(execution.get("redriveCount", 0)) < rules.max_auto_redrives
    if redrives_left and execution["status"] in ("FAILED", "TIMED_OUT"):
        return "keep"  # the redrive rule has not given up on it yet
    stopped = execution.get("stopDate")
    if not isinstance(stopped, datetime):
        return "keep"
    return "reap" if now - stopped > rules.reap_after else "keep"


def describe_owner(sfn: Any, execution_arn: str) -> dict[str, Any] | None:
    if not execution_arn:
        return None
    try:
        return sfn.describe_execution(executionArn=execution_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return None


def reap(
    ddb: Any, sfn: Any, sqs: Any, settings: runtime.Settings, rules: ReaperSettings, now: datetime
) -> dict[str, Any]:
    """Release every HELD order the verdict gives up on; refund captured ones first."""
    gateway = gateway_named(settings.payment_gateway)
    reaped: list[str] = []
    failed: list[str] = []
    kept = 0
    for order in held_orders(ddb, settings.orders_table):
        order_id = order["orderId"]
        if verdict(order, describe_owner(sfn, str(order.get("executionId", ""))), now, rules) == "keep":
            kept += 1
            continue
        try:
            refund = refund_order(ddb, settings.orders_table, gateway, order_id, now.isoformat())
            if refund.reconciliation:
                send_to_reconciliation(sqs, reconciliation_queue_url(), refund, "Reaper")
            release(ddb, settings.orders_table, settings.inventory_table, order_id, now.isoformat())
            reaped.append(order_id)
        except Exception:
            log.exception("reaping failed", extra={"orderId": order_id})
            failed.append(order_id)
    return {"reaped": reaped, "kept": kept, "failed": failed}


class ReapingFailed(RuntimeError):  # noqa: N818
    """Some orders could not be reaped; they are tried again on the next schedule (and alarm)."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = runtime.settings()
    path = os.environ["PARAMETERS_PATH"]
    rules = ReaperSettings.load(path, load_parameters(runtime.client("ssm"), path))
    summary = reap(
        runtime.client("dynamodb"),
        runtime.client("stepfunctions"),
        runtime.client("sqs"),
        settings,
        rules,
        datetime.now(UTC),
    )
    log.info("reaper run", extra=summary)
    if summary["failed"]:
        raise ReapingFailed(f"orders not reaped this run: {summary['failed']}")
    return summary
