"""Feature store enrichment: our grouped conditional writes vs a naive per-record get+put.

Replays the same 10,000 events (batches of 500) spread over 50, 500 and 5,000 distinct users through
our handler and through a naive per-record get_item + put_item baseline, against one moto DynamoDB
server in one run, and prints a table of DynamoDB calls (reads and writes) per record and records
per second for each, against the targets.

    .venv/bin/python -m bench.feature_store_throughput [--events 10000] [--users 50 500 5000] [--batch 500]

The backend is moto's server in its own process on 127.0.0.1, so every call is an HTTP round trip as
it is against DynamoDB. Batches are replayed alternately through both implementations so that load
from other processes on the machine weighs on both alike. Our handler runs as the component deploys
it (WRITE_CONCURRENCY writer threads); the same handler with one writer thread is printed too, for
reference. The naive baseline cannot run users in parallel without losing updates, which is its defect.

Targets (issue 15): at 50 users at most 0.12 DynamoDB calls per record for ours and at least 10x the
baseline's throughput; at 5,000 users at least 3x. (With 500 records of as many users per batch, each
user still needs its own conditional write, so calls per record cannot drop as they do with 50.)
Exits 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
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


def naive_article_handler(table: Any) -> Callable[[Sequence[dict[str, Any]]], None]:
    """The articles' enrichment (base64 decoding fixed so it runs): get_item then put_item per record."""

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


@dataclass
class Scenario:
    """One row of the report: the same events spread over `users` distinct users."""

    users: int
    results: list[Measured]
    applied: dict[str, int]

    @property
    def deployed(self) -> Measured:
        return self.results[0]

    @property
    def naive(self) -> Measured:
        return self.results[-1]

    @property
    def ratio(self) -> float:
        return self.deployed.throughput / self.naive.throughput


# Targets per number of distinct users (issue 15): calls per record, and throughput over the naive handler.
CALLS_TARGETS = {50: MAX_CALLS_PER_RECORD}
SPEEDUP_TARGETS = {50: MIN_SPEEDUP, 5_000: 3.0}


def run_scenario(endpoint: str, events: int, users: int, batch: int, *, single_thread: bool) -> Scenario:
    batches = workload(events, users, batch)
    suffix = f"{users}u"
    deployed, run_deployed = ours(
        endpoint,
        f"bench-ours-{suffix}",
        f"ours, {DEPLOYED_WRITE_CONCURRENCY} writer threads (deployed)",
        DEPLOYED_WRITE_CONCURRENCY,
    )
    runners: list[tuple[Measured, Callable[[Batch], None], str | None]] = [
        (deployed, run_deployed, f"bench-ours-{suffix}")
    ]
    if single_thread:
        single, run_single = ours(endpoint, f"bench-ours-1-{suffix}", "ours, 1 writer thread", 1)
        runners.append((single, run_single, f"bench-ours-1-{suffix}"))
    naive_client = dynamodb_client(endpoint)
    create_feature_table(naive_client, f"bench-naive-{suffix}")
    naive_table = boto3.resource("dynamodb", region_name=REGION, endpoint_url=endpoint).Table(f"bench-naive-{suffix}")
    naive = Measured("naive: get_item + put_item per record")
    naive_table.meta.client.meta.events.register("before-call.dynamodb.*", naive.count)
    naive_table.meta.client.describe_table(TableName=f"bench-naive-{suffix}")  # warm the connection pool
    runners.append((naive, naive_article_handler(naive_table), None))
    for each in batches:
        for measured, runner, _ in runners:
            measured.timed(runner, each)
    applied = {measured.name: applied_events(endpoint, table) for measured, _, table in runners if table}
    return Scenario(users, [measured for measured, _, _ in runners], applied)


def run(events: int, user_counts: Sequence[int], batch: int, *, single_thread: bool = False) -> list[Scenario]:
    """Every scenario against one moto server, in one run."""
    with moto_server() as endpoint:
        return [run_scenario(endpoint, events, users, batch, single_thread=single_thread) for users in user_counts]


def _target(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def report(scenarios: Sequence[Scenario], events: int, batch: int) -> dict[str, bool]:
    """Print the table and return each target check."""
    batches = -(-events // batch)
    print(f"workload: {events} events, {batches} batches of {batch}; the same events for every row, users varied")
    print("backend: one moto server process on 127.0.0.1 (HTTP), implementations replayed batch by batch, alternately")
    header = (
        f"{'users':>6} {'impl':7} {'reads':>6} {'writes':>7} {'calls/rec':>9} {'target':>7} "
        f"{'records/s':>10} {'seconds':>8} {'x naive':>8} {'target':>7}"
    )
    print(header)
    print("-" * len(header))
    checks: dict[str, bool] = {}
    for scenario in scenarios:
        calls_target = CALLS_TARGETS.get(scenario.users)
        speed_target = SPEEDUP_TARGETS.get(scenario.users)
        for measured in scenario.results:
            short = "naive" if measured is scenario.naive else ("ours" if measured is scenario.deployed else "ours-1")
            ratio = measured.throughput / scenario.naive.throughput
            mine = measured is scenario.deployed
            print(
                f"{scenario.users:6d} {short:7} {measured.reads:6d} {measured.writes:7d} "
                f"{measured.calls_per_record:9.3f} {_target(calls_target if mine else None, '<={:.2f}'):>7} "
                f"{measured.throughput:10.0f} {measured.seconds:8.2f} {ratio:7.1f}x "
                f"{_target(speed_target if mine else None, '>={:.0f}x'):>7}"
            )
        if calls_target is not None:
            checks[f"{scenario.users} users: <= {calls_target} DynamoDB calls/record"] = (
                scenario.deployed.calls_per_record <= calls_target
            )
        if speed_target is not None:
            checks[f"{scenario.users} users: >= {speed_target:.0f}x naive throughput"] = scenario.ratio >= speed_target
        checks[f"{scenario.users} users: every event applied exactly once (ours)"] = all(
            n == events for n in scenario.applied.values()
        )
    for label, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--users", type=int, nargs="+", default=[50, 500, 5_000])
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--single-thread", action="store_true", help="also run ours with one writer thread")
    options = parser.parse_args(argv)
    # The handler logs one JSON line and one EMF line per batch; keep the figures readable.
    logging.getLogger("feature_store.enrich").setLevel(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()):
        scenarios = run(options.events, options.users, options.batch, single_thread=options.single_thread)
    checks = report(scenarios, options.events, options.batch)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
