"""Feature store enrichment: our grouped conditional writes vs a naive per-record get+put.

Replays the same 10,000 events (50 users, uniformly spread, batches of 500) through our handler and
through a naive per-record get_item + put_item baseline, against one moto DynamoDB server in one run,
and prints DynamoDB calls (reads and writes) per record and records per second for each.

    .venv/bin/python -m bench.feature_store_throughput [--events 10000] [--users 50] [--batch 500]

The backend is moto's server in its own process on 127.0.0.1, so every call is an HTTP round trip as
it is against DynamoDB. Batches are replayed alternately through both implementations so that load
from other processes on the machine weighs on both alike. Our handler runs as the component deploys
it (WRITE_CONCURRENCY writer threads); the same handler with one writer thread is printed too, for
reference. The naive baseline cannot run users in parallel without losing updates, which is its defect.

Targets (issue 4): at most 0.12 DynamoDB calls per record for ours, at least 10x the baseline's
throughput. Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config

from handlers.feature_store.enrich import process_batch
from handlers.feature_store.store import FeatureTable
from tests.feature_store.conftest import create_feature_table
from tests.feature_store.streams import T0, record

REGION = "eu-west-1"
READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
WRITES = frozenset({"PutItem", "UpdateItem", "BatchWriteItem", "DeleteItem"})
MAX_CALLS_PER_RECORD = 0.12
MIN_SPEEDUP = 10.0
DEPLOYED_WRITE_CONCURRENCY = 8  # the component's default writeConcurrency

Batch = list[dict[str, Any]]


def workload(events: int, users: int, batch: int, seed: int = 4) -> list[Batch]:
    """Kinesis batches: each event from a uniformly drawn user, 250 ms apart, in stream order."""
    rng = random.Random(seed)  # noqa: S311 - reproducible workload, not crypto
    records = [
        record(
            {
                "userId": f"user-{rng.randrange(users):03d}",
                "eventType": rng.choice(["view", "click", "add_to_cart", "purchase"]),
                "metric": round(rng.uniform(0, 100), 2),
                "timestamp": (T0 + timedelta(milliseconds=250 * i)).isoformat(),
            },
            sequence=i,
        )
        for i in range(events)
    ]
    return [records[start : start + batch] for start in range(0, events, batch)]


@dataclass
class Measured:
    """Calls one implementation sent (counted by botocore, per API) and the time it spent."""

    name: str
    calls: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    records: int = 0

    def count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    @property
    def reads(self) -> int:
        return sum(n for api, n in self.calls.items() if api in READS)

    @property
    def writes(self) -> int:
        return sum(n for api, n in self.calls.items() if api in WRITES)

    @property
    def calls_per_record(self) -> float:
        return (self.reads + self.writes) / self.records

    @property
    def throughput(self) -> float:
        return self.records / self.seconds

    def timed(self, run: Callable[[Batch], None], batch: Batch) -> None:
        start = time.perf_counter()
        run(batch)
        self.seconds += time.perf_counter() - start
        self.records += len(batch)


def naive_handler(table: Any) -> Callable[[Sequence[dict[str, Any]]], None]:
    """The baseline: get_item then put_item per record, two calls a record and a lost update whenever two
    shards write one user between the read and the write."""

    def handle(records: Sequence[dict[str, Any]]) -> None:
        for raw in records:
            payload = json.loads(base64.b64decode(raw["kinesis"]["data"]))
            user, ts = payload["userId"], datetime.fromisoformat(payload["timestamp"])
            old = table.get_item(Key={"userId": user}).get("Item", {})
            count = int(old.get("count", 0))
            last = old.get("lastTimestamp")
            count = count + 1 if last and ts - datetime.fromisoformat(last) < timedelta(minutes=5) else 1
            table.put_item(
                Item={
                    "userId": user,
                    "lastTimestamp": ts.isoformat(),
                    "count": count,
                    "lastMetric": str(payload["metric"]),
                }
            )

    return handle


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's DynamoDB in its own process, as a network service; stopped (by its pid) on exit."""
    # moto accepts any credentials; these never leave the machine.
    fake = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_SESSION_TOKEN": "bench"}
    os.environ.update(fake, AWS_DEFAULT_REGION=REGION)
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our interpreter running moto, fixed arguments
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def dynamodb_client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=endpoint,
        config=Config(max_pool_connections=DEPLOYED_WRITE_CONCURRENCY * 2, retries={"mode": "standard"}),
    )


def ours(endpoint: str, table_name: str, name: str, writers: int) -> tuple[Measured, Callable[[Batch], None]]:
    client = dynamodb_client(endpoint)
    create_feature_table(client, table_name)
    measured = Measured(name)
    client.meta.events.register("before-call.dynamodb.*", measured.count)
    table = FeatureTable(client=client, table_name=table_name, ttl_seconds=30 * 86_400)
    executor = ThreadPoolExecutor(max_workers=writers) if writers > 1 else None

    def run(batch: Batch) -> None:
        response = process_batch(batch, table, executor=executor)
        if response["batchItemFailures"]:
            raise SystemExit(f"{name} reported failures on a clean workload: {response}")

    return measured, run


def applied_events(endpoint: str, table_name: str) -> int:
    """Events reflected in the table (read with a client of its own, outside the counts)."""
    scan = dynamodb_client(endpoint).get_paginator("scan")
    pages = scan.paginate(TableName=table_name, ProjectionExpression="features.totalCount")
    return sum(int(item["features"]["M"]["totalCount"]["N"]) for page in pages for item in page["Items"])


def run(events: int, users: int, batch: int) -> tuple[list[Measured], dict[str, int]]:
    batches = workload(events, users, batch)
    with moto_server() as endpoint:
        deployed, run_deployed = ours(
            endpoint,
            "bench-ours",
            f"ours, {DEPLOYED_WRITE_CONCURRENCY} writer threads (deployed)",
            DEPLOYED_WRITE_CONCURRENCY,
        )
        single, run_single = ours(endpoint, "bench-ours-1", "ours, 1 writer thread", 1)
        naive_client = dynamodb_client(endpoint)
        create_feature_table(naive_client, "bench-naive")
        naive_table = boto3.resource("dynamodb", region_name=REGION, endpoint_url=endpoint).Table("bench-naive")
        naive = Measured("naive: get_item + put_item per record")
        naive_table.meta.client.meta.events.register("before-call.dynamodb.*", naive.count)
        run_naive = naive_handler(naive_table)
        naive_table.meta.client.describe_table(TableName="bench-naive")  # warm the connection pool
        for each in batches:
            deployed.timed(run_deployed, each)
            single.timed(run_single, each)
            naive.timed(run_naive, each)
        applied = {
            deployed.name: applied_events(endpoint, "bench-ours"),
            single.name: applied_events(endpoint, "bench-ours-1"),
        }
    return [deployed, single, naive], applied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--batch", type=int, default=500)
    options = parser.parse_args(argv)
    # The handler logs one JSON line per batch; keep the figures readable.
    logging.getLogger("feature_store.enrich").setLevel(logging.WARNING)

    results, applied = run(options.events, options.users, options.batch)
    deployed, single, naive = results
    batches = -(-options.events // options.batch)
    print(f"workload: {options.events} events, {options.users} users, {batches} batches of {options.batch}")
    print("backend: one moto server process on 127.0.0.1 (HTTP), batches replayed alternately")
    print(f"{'implementation':44} {'reads':>6} {'writes':>7} {'calls/record':>13} {'records/s':>10} {'seconds':>8}")
    for result in results:
        print(
            f"{result.name:44} {result.reads:6d} {result.writes:7d} {result.calls_per_record:13.3f} "
            f"{result.throughput:10.0f} {result.seconds:8.2f}"
        )
    ratio = deployed.throughput / naive.throughput
    print(f"throughput ratio, deployed / naive: {ratio:.1f}x")
    print(f"throughput ratio, 1 writer thread / naive: {single.throughput / naive.throughput:.1f}x")
    checks = {
        f"calls per record <= {MAX_CALLS_PER_RECORD} (ours)": max(deployed.calls_per_record, single.calls_per_record)
        <= MAX_CALLS_PER_RECORD,
        f"throughput >= {MIN_SPEEDUP:.0f}x baseline (deployed)": ratio >= MIN_SPEEDUP,
        "every event applied exactly once (ours)": all(n == options.events for n in applied.values()),
    }
    for label, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
