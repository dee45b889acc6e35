"""What every order-workflow function shares: settings from the environment, clients, events.

Clients are created once per container (first use), from the environment the component sets.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from handlers.common.jsonutil import dumps

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


@dataclass(frozen=True)
class Settings:
    orders_table: str
    inventory_table: str
    callback_table: str
    event_bus_name: str
    payment_gateway: str
    callback_ttl_seconds: int

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            orders_table=os.environ.get("ORDERS_TABLE", ""),
            inventory_table=os.environ.get("INVENTORY_TABLE", ""),
            callback_table=os.environ.get("CALLBACK_TABLE", ""),
            event_bus_name=os.environ.get("EVENT_BUS_NAME", ""),
            payment_gateway=os.environ.get("PAYMENT_GATEWAY", "local"),
            callback_ttl_seconds=int(os.environ.get("CALLBACK_TTL_SECONDS", "86400")),
        )


@functools.cache
def settings() -> Settings:
    return Settings.from_env()


@functools.cache
def client(service: str) -> Any:
    return boto3.client(service)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def reset() -> None:
    """Forget settings and clients (a new container); used by tests between emulated accounts."""
    settings.cache_clear()
    client.cache_clear()


def publish(events_client: Any, bus_name: str, source: str, detail_type: str, detail: dict[str, Any]) -> str:
    """Put one event on the bus and return its id; a rejected entry raises instead of vanishing."""
    response = events_client.put_events(
        Entries=[{"EventBusName": bus_name, "Source": source, "DetailType": detail_type, "Detail": dumps(detail)}]
    )
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise EventPublishError(f"{detail_type} for {json.dumps(detail.get('orderId'))} rejected: {entry}")
    return entry["EventId"]
