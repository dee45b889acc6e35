"""Orders racing for scarce stock through the real state machine: none oversold, none left holding.

* 200 orders for 50 units, every DynamoDB request atomic: exactly 50 complete.
* The same race where DynamoDB refuses overlapping transactions (TransactionConflict), as it does:
  the conflicts really happen, are retried under their name, and an execution whose retries run out
  fails at its task holding nothing extra; resubmitting its order (as the redrive would resume it)
  settles it. Still nothing is oversold and no order stays HELD.

See emulator.py for how Task states reach the handler code in-process, and dynamodb_model.py for
the conflict model.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from tests.order_workflow.emulator import Account, emulated_account, order

# Errors the definition retries and, once the retries run out, leaves for a redrive.
RETRYABLE = {"InventoryContention", "StoreThrottled"}


@contextmanager
def stock_watch(account: Account, products: list[str]) -> Iterator[list[dict[str, dict[str, int]]]]:
    """Samples the stock while the race runs (one thread: polling threads only add GIL contention)."""
    samples: list[dict[str, dict[str, int]]] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            samples.append({p: account.stock(p) for p in products})
            time.sleep(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield samples
    finally:
        done.set()
        watcher.join()


def race(account: Account, orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Submit from parallel threads; executions run in the interpreter's threads while more arrive."""
    with ThreadPoolExecutor(max_workers=32) as pool:
        arns = list(pool.map(account.start, orders))
    return account.wait_all(arns, timeout=300)


def assert_never_oversold(samples: list[dict[str, dict[str, int]]], units: int) -> None:
    assert samples, "the stock watcher never sampled"
    for sample in samples:
        for product, stock in sample.items():
            assert stock["available"] >= 0, (product, stock)
            assert stock["available"] + stock["reserved"] <= units, (product, stock)


def test_two_hundred_parallel_orders_for_fifty_units_never_oversell() -> None:
    with emulated_account("direct") as account:
        account.put_stock("HOT-1", 50)
        orders = [order(f"rush-{i:03d}", lines=[("HOT-1", 1, "19.99")]) for i in range(200)]
        with stock_watch(account, ["HOT-1"]) as samples:
            results = race(account, orders)

        assert_never_oversold(samples, 50)
        outcomes = Counter((r["status"], r.get("error")) for r in results)
        assert outcomes == {("SUCCEEDED", None): 50, ("FAILED", "InsufficientInventory"): 150}
        assert account.stock("HOT-1") == {"available": 0, "reserved": 0}
        statuses = Counter(account.order(o["orderId"])["status"] for o in orders)
        assert statuses == {"FULFILLED": 50, "OUT_OF_STOCK": 150}


def test_contention_with_real_transaction_conflicts_never_oversells_nor_strands_an_order() -> None:
    # Retry waits are slept at 1/50 of their length, so the full jitter spreads the retries.
    with emulated_account("direct", transaction_conflicts=True, retry_time_scale=0.02) as account:
        products = ["CLASH-A", "CLASH-B"]
        for product in products:
            account.put_stock(product, 15)
        # Every order takes one unit of both products: each reservation and each fulfilment is a
        # transaction over both hot items.
        orders = {
            f"clash-{i:03d}": order(f"clash-{i:03d}", lines=[("CLASH-A", 1, "5.00"), ("CLASH-B", 1, "7.00")])
            for i in range(60)
        }
        latest: dict[str, dict[str, Any]] = {}
        with stock_watch(account, products) as samples:
            pending = list(orders)
            for _ in range(10):
                for order_id, result in zip(pending, race(account, [orders[o] for o in pending]), strict=True):
                    latest[order_id] = result
                # What a redrive would resume: executions that failed at a task on a retryable error.
                pending = [o for o, r in latest.items() if r["status"] == "FAILED" and r["error"] in RETRYABLE]
                if not pending:
                    break

        assert account.dynamodb.cancelled_transactions > 0, "no transaction conflict happened"
        assert_never_oversold(samples, 15)
        assert pending == [], f"orders still failing after 10 resubmissions: {pending}"
        outcomes = Counter((r["status"], r.get("error")) for r in latest.values())
        assert outcomes == {("SUCCEEDED", None): 15, ("FAILED", "InsufficientInventory"): 45}, outcomes
        for product in products:
            assert account.stock(product) == {"available": 0, "reserved": 0}
        stored = [account.order(order_id) for order_id in orders]
        assert [o["orderId"] for o in stored if o.get("reservationState") == "HELD"] == []
        assert Counter(o["status"] for o in stored) == {"FULFILLED": 15, "OUT_OF_STOCK": 45}
