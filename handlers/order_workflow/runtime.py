"""What every order-workflow function shares: settings, clients, events.

Resource names come from the environment the component sets; tunable settings from SSM Parameter
Store under `PARAMETERS_PATH`. Clients come from handlers.common.aws, once per container.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from handlers.common import aws
from handlers.common.jsonutil import dumps
from handlers.common.params import clear_cache, load_parameters

# Event vocabulary of the bus (sources and detail-types the rules match on).
ORDERS_SOURCE = "ecommerce.orders"
PAYMENTS_SOURCE = "ecommerce.payments"
FULFILMENT_SOURCE = "ecommerce.fulfillment"
PAYMENT_COMPLETED = "Payment Completed"
PAYMENT_DECLINED = "Payment Declined"
PAYMENT_PROCESSING = "Payment Processing"
ORDER_FULFILLED = "Order Fulfilled"


class EventPublishError(RuntimeError):
    """EventBridge refused an entry; raised so the task is retried rather than the event lost."""


class StoreThrottled(RuntimeError):  # noqa: N818 - the class name is the Step Functions error name
    """DynamoDB still throttled after the SDK's own retries: the state machine retries the task, by this name."""


class InventoryContention(Exception):  # noqa: N818
    """Another transaction held one of the items at the same moment (DynamoDB's TransactionConflict);
    retrying is safe, and the state machine does, by this name."""


class MalformedTaskInput(ValueError):  # noqa: N818
    """The state machine passed a task input without a field the task needs (a definition error)."""


# DynamoDB's modeled throttling errors; every one of them is safe to retry.
THROTTLING_ERRORS = ("ProvisionedThroughputExceededException", "RequestLimitExceeded", "ThrottlingException")


def order_id_of(event: Any) -> str:
    """The task input's orderId, or a MalformedTaskInput naming what arrived instead."""
    order_id = event.get("orderId") if isinstance(event, dict) else None
    if not isinstance(order_id, str) or not order_id:
        shown = sorted(event) if isinstance(event, dict) else type(event).__name__
        raise MalformedTaskInput(f"task input needs a non-empty string orderId; got {shown}")
    return order_id


def throttled(error: BaseException, ddb: Any) -> bool:
    """True for DynamoDB's modeled throttling exceptions (matched by class, not by parsing codes)."""
    return isinstance(error, tuple(getattr(ddb.exceptions, name) for name in THROTTLING_ERRORS))


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def task(handler: Handler) -> Handler:
    """A Step Functions task handler whose DynamoDB throttling surfaces as StoreThrottled and whose
    single writes refused by an ongoing transaction as InventoryContention, so every state retries
    them by name instead of each task catching codes."""

    @functools.wraps(handler)
    def run(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return handler(event, context)
        except ClientError as error:
            ddb = client("dynamodb")
            if throttled(error, ddb):
                raise StoreThrottled(f"DynamoDB throttled: {error}") from error
            if isinstance(error, ddb.exceptions.TransactionConflictException):
                raise InventoryContention(f"write refused during another transaction: {error}") from error
            raise

    return run


# Settings the operators tune live in SSM Parameter Store under the component's path (PARAMETERS_PATH);
# the names of the resources a function is wired to travel in its environment.
WIRING = ("ORDERS_TABLE", "INVENTORY_TABLE", "CALLBACK_TABLE", "EVENT_BUS_NAME", "PARAMETERS_PATH")
PARAMETERS = ("paymentGateway", "callbackTtlSeconds")


class SettingsError(RuntimeError):
    """The function is deployed without a setting it needs: a deployment error, named precisely."""


@dataclass(frozen=True)
class Settings:
    orders_table: str
    inventory_table: str
    callback_table: str
    event_bus_name: str
    payment_gateway: str
    callback_ttl_seconds: int

    @classmethod
    def load(cls, environ: Mapping[str, str], parameters: Mapping[str, str]) -> Settings:
        missing = [key for key in WIRING if not environ.get(key)]
        if missing:
            raise SettingsError(f"environment variables {missing} are not set")
        path = environ["PARAMETERS_PATH"]
        absent = [key for key in PARAMETERS if key not in parameters]
        if absent:
            raise SettingsError(f"runtime parameters {[f'{path}/{k}' for k in absent]} are not set")
        ttl = parameters["callbackTtlSeconds"]
        if not ttl.isdigit() or int(ttl) <= 0:
            raise SettingsError(f"{path}/callbackTtlSeconds is {ttl!r}; expected a positive whole number of seconds")
        return cls(
            orders_table=environ["ORDERS_TABLE"],
            inventory_table=environ["INVENTORY_TABLE"],
            callback_table=environ["CALLBACK_TABLE"],
            event_bus_name=environ["EVENT_BUS_NAME"],
            payment_gateway=parameters["paymentGateway"],
            callback_ttl_seconds=int(ttl),
        )


def settings() -> Settings:
    """Current settings: parameters are re-read at most every few minutes (see handlers.common.params)."""
    path = os.environ.get("PARAMETERS_PATH")
    return Settings.load(os.environ, load_parameters(client("ssm"), path) if path else {})


# How the order functions call AWS (botocore's standard retries, see handlers.common.aws). A task
# makes at most a handful of calls and its function times out after 30 s; what outlasts these
# attempts surfaces as a named error and Step Functions retries the whole (idempotent) task.
CALLS = aws.CallPolicy(attempts=3, connect_timeout=2.0, read_timeout=5.0)


def client(service: str) -> Any:
    """The container's client for `service` (one per container, made on first use)."""
    return aws.client(service, CALLS)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def reset() -> None:
    """Forget settings and clients (a new container); used by tests between emulated accounts."""
    clear_cache()
    aws.clear_clients()


def publish(events_client: Any, bus_name: str, source: str, detail_type: str, detail: dict[str, Any]) -> str:
    """Put one event on the bus and return its id; a rejected entry raises instead of vanishing."""
    response = events_client.put_events(
        Entries=[{"EventBusName": bus_name, "Source": source, "DetailType": detail_type, "Detail": dumps(detail)}]
    )
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise EventPublishError(f"{detail_type} for {json.dumps(detail.get('orderId'))} rejected: {entry}")
    return entry["EventId"]
