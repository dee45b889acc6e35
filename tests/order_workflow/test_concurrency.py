"""200 orders race for 50 units through the real state machine: exactly 50 complete, none oversold.

See emulator.py for how Task states reach the handler code in-process.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from tests.order_workflow.emulator import emulated_account, order


def test_two_hundred_parallel_orders_for_fifty_units_never_oversell() -> None:
    with emulated_account("direct") as account:
        account.put_stock("HOT-1", 50)
        orders = [order(f"rush-{i:03d}", lines=[("HOT-1", 1, "19.99")]) for i in range(200)]
        # Submitted from parallel threads; executions run concurrently in the interpreter's own threads
        # while they are still being submitted. Waiting needs no threads (polling threads only add GIL
        # contention).
        samples: list[dict[str, int]] = []
        done = threading.Event()

        def watch_stock() -> None:
            while not done.is_set():
                samples.append(account.stock("HOT-1"))
                time.sleep(0.05)

        watcher = threading.Thread(target=watch_stock)
        watcher.start()
        with ThreadPoolExecutor(max_workers=32) as pool:
            arns = list(pool.map(account.start, orders))
        results = [account.wait(arn, timeout=300) for arn in arns]
        done.set()
        watcher.join()

        assert samples, "the stock watcher never sampled"
        assert min(s["available"] for s in samples) >= 0
        assert all(s["available"] + s["reserved"] <= 50 for s in samples)

        outcomes = Counter((r["status"], r.get("error")) for r in results)
        assert outcomes == {("SUCCEEDED", None): 50, ("FAILED", "InsufficientInventory"): 150}
        assert account.stock("HOT-1") == {"available": 0, "reserved": 0}
        statuses = Counter(account.order(o["orderId"])["status"] for o in orders)
        assert statuses == {"FULFILLED": 50, "OUT_OF_STOCK": 150}
