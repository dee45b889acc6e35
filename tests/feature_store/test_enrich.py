"""The enrichment function against moto DynamoDB: atomic, idempotent, partial failures, no drops."""

from __future__ import annotations

import base64
import json
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend

from handlers.feature_store import enrich
from handlers.feature_store.enrich import feature_write_policy, process_batch
from handlers.feature_store.features import (
    MAX_TEXT_FEATURE_BYTES,
    UserFeatures,
    apply_events,
    decode_record,
    format_timestamp,
)
from tests.feature_store.conftest import TABLE, CallCounter, features, new_table, stored
from tests.feature_store.streams import T0, event, raw_record, record, sequence_number
from tests.http_sends import SendCounter

NOW = 1_795_428_000


def batch(*payloads: dict, start: int = 1, shard: str = "shardId-000000000000") -> list[dict[str, Any]]:
    return [record(p, sequence=start + i, shard=shard) for i, p in enumerate(payloads)]


def test_one_batch_writes_every_feature(dynamodb: Any) -> None:
    table = new_table(dynamodb)
    response = process_batch(
        batch(
            event("u1", 0, eventType="view"),
            event("u1", 1, metric=12.5),
            event("u2", 2, eventType="click"),
            event("u1", 3, eventType="purchase"),
        ),
        table,
    )
    assert response == {"batchItemFailures": []}
    item = stored(dynamodb, "u1")
    assert item is not None
    assert set(item) == {"userId", "features", "state", "expiresAt"}
    assert item["features"] == {
        "lastEventTime": "2026-11-23T10:03:00.000Z",
        "lastEventType": "purchase",
        "lastMetric": Decimal("12.5"),
        "totalCount": 3,
        "count5min": 3,
    }
    assert item["expiresAt"] == NOW + 30 * 86_400
    state = item["state"]
    assert state["version"] == 1
    assert state["shardSequences"] == {"shardId-000000000000": sequence_number(4)}
    assert (state["lastEventTypeTime"], state["lastMetricTime"]) == (
        "2026-11-23T10:03:00.000Z",
        "2026-11-23T10:01:00.000Z",
    )
    # Three window entries, packed as 4-byte offsets before the newest event: 3 min, 2 min, 0.
    assert state["recentEventTimes"].value == struct.pack(">3I", 180_000, 120_000, 0)
    assert features(dynamodb, "u2")["totalCount"] == 1


def test_each_user_costs_one_conditional_update_per_batch(dynamodb: Any, counter: CallCounter) -> None:
    table = new_table(dynamodb)
    users = [f"user-{i}" for i in range(10)]
    first = [event(users[i % 10], i / 10) for i in range(100)]
    process_batch(batch(*first, start=1), table)
    assert counter.calls == {"BatchGetItem": 1, "UpdateItem": 10}
    counter.calls.clear()
    second = [event(users[i % 10], 10 + i / 10) for i in range(100)]
    process_batch(batch(*second, start=101), table)
    # Warm container: the versions are known, so no read at all.
    assert counter.calls == {"UpdateItem": 10}
    assert all(features(dynamodb, u)["totalCount"] == 20 for u in users)


def test_rolling_count_over_batches_keeps_the_true_window(dynamodb: Any) -> None:
    table = new_table(dynamodb)
    process_batch(batch(event("u1", 0), event("u1", 2), start=1), table)
    process_batch(batch(event("u1", 4), event("u1", 6), start=3), table)
    assert features(dynamodb, "u1")["count5min"] == 3  # minutes 2, 4, 6
    process_batch(batch(event("u1", 20), start=5), table)
    item = features(dynamodb, "u1")
    assert item["count5min"] == 1 and item["totalCount"] == 5


@pytest.mark.parametrize("same_container", [True, False], ids=["warm-container", "new-container"])
def test_redelivered_batch_changes_nothing(dynamodb: Any, same_container: bool) -> None:
    records = batch(*[event(f"u{i % 3}", i) for i in range(9)])
    first = new_table(dynamodb)
    process_batch(records, first)
    before = {u: stored(dynamodb, u) for u in ("u0", "u1", "u2")}
    counter = CallCounter(dynamodb)
    assert process_batch(records, first if same_container else new_table(dynamodb)) == {"batchItemFailures": []}
    assert {u: stored(dynamodb, u) for u in ("u0", "u1", "u2")} == before
    assert counter.calls["UpdateItem"] == 0
    assert counter.calls["BatchGetItem"] == (0 if same_container else 1)


def test_retry_from_a_reported_record_applies_only_new_records(dynamodb: Any) -> None:
    table = new_table(dynamodb)
    first = batch(event("u1", 0), {"userId": "u2", "timestamp": "nope", "eventType": "x"}, event("u1", 1), start=1)
    assert process_batch(first, table) == {"batchItemFailures": [{"itemIdentifier": sequence_number(2)}]}
    # Lambda retries from the reported record: it and everything after it, plus newer records.
    retry = first[1:] + batch(event("u1", 2), start=4)
    process_batch(retry, table)
    item = features(dynamodb, "u1")
    assert item["totalCount"] == 3 and item["count5min"] == 3


def test_out_of_order_events_never_move_last_backwards(dynamodb: Any) -> None:
    table = new_table(dynamodb)
    process_batch(batch(event("u1", 10, eventType="purchase", metric=99), start=1), table)
    process_batch(batch(event("u1", 8, eventType="view", metric=1), event("u1", 2, eventType="old"), start=2), table)
    item = features(dynamodb, "u1")
    assert (item["lastEventTime"], item["lastEventType"], item["lastMetric"]) == (
        "2026-11-23T10:10:00.000Z",
        "purchase",
        99,
    )
    assert item["totalCount"] == 3
    assert item["count5min"] == 2  # minutes 8 and 10


def test_three_malformed_records_among_97_good_ones(dynamodb: Any, captured) -> None:
    logger, logs = captured
    good = [record(event(f"user-{i % 7}", i / 60), sequence=i) for i in range(100)]
    bad_positions = {13: "not base64", 50: "does not hold JSON", 88: "timestamp"}
    records = list(good)
    records[13] = raw_record("%%%not-base64%%%", sequence=13)
    records[50] = raw_record("eyJ1c2VySWQiOiA=", sequence=50)  # base64 of a truncated JSON object
    records[88] = record({"userId": "user-4", "eventType": "x", "timestamp": "23/11/2026"}, sequence=88)
    response = process_batch(records, new_table(dynamodb), logger=logger)
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence_number(i)} for i in sorted(bad_positions)]}
    totals = sum(features(dynamodb, f"user-{u}")["totalCount"] for u in range(7))
    assert totals == 97
    errors = [r for r in logs.records if r.getMessage() == "malformed record"]
    assert [r.sequenceNumber for r in errors] == [sequence_number(i) for i in sorted(bad_positions)]
    for log, position in zip(errors, sorted(bad_positions), strict=True):
        assert bad_positions[position] in log.reason


def test_record_that_cannot_be_reported_fails_the_invocation(dynamodb: Any) -> None:
    broken = record(event("u1", 0), sequence=1)
    del broken["kinesis"]["sequenceNumber"]
    with pytest.raises(ValueError, match=r"without kinesis\.sequenceNumber"):
        process_batch([broken], new_table(dynamodb))


def test_throttled_write_is_retried_by_the_client_and_lands(
    http_dynamodb: tuple[Any, SendCounter], no_backoff_sleep: list[float]
) -> None:
    client, sends = http_dynamodb
    sends.throttle_first("UpdateItem", 2)
    assert process_batch(batch(event("u1", 0)), new_table(client)) == {"batchItemFailures": []}
    # Retried inside botocore (standard mode, with its backoff), never by a loop of ours on top.
    assert sends.sends["UpdateItem"] == 3 and sends.throttled["UpdateItem"] == 2
    assert len(no_backoff_sleep) == 2 and all(0 <= d <= 2 for d in no_backoff_sleep)
    assert features(client, "u1")["totalCount"] == 1


def test_a_throttled_write_costs_exactly_the_configured_sends_and_is_reported(
    http_dynamodb: tuple[Any, SendCounter], no_backoff_sleep: list[float], captured
) -> None:
    client, sends = http_dynamodb
    logger, logs = captured
    sends.throttle_when(lambda op, body: op == "UpdateItem" and body["Key"]["userId"]["S"] == "hot")
    records = batch(event("hot", 0), event("cool", 0), event("hot", 1))
    response = process_batch(records, new_table(client), logger=logger)
    assert response == {
        "batchItemFailures": [{"itemIdentifier": sequence_number(1)}, {"itemIdentifier": sequence_number(3)}]
    }
    attempts = feature_write_policy(8).attempts
    assert attempts == 3
    # "hot": one write for both records, sent `attempts` times in all (not attempts x attempts).
    assert sends.throttled["UpdateItem"] == attempts
    assert sends.sends["UpdateItem"] == attempts + 1 and sends.sends["BatchGetItem"] == 1
    assert stored(client, "hot") is None
    assert features(client, "cool")["totalCount"] == 1
    failure = next(r for r in logs.records if r.getMessage() == "feature write failed")
    assert failure.userId == "hot" and "ProvisionedThroughputExceededException" in failure.error
    # The retry Lambda makes once the table has capacity again applies them exactly once.
    sends.throttle_when(lambda _op, _body: False)
    assert process_batch(records, new_table(client)) == {"batchItemFailures": []}
    assert features(client, "hot")["totalCount"] == 2
    assert features(client, "cool")["totalCount"] == 1


def test_stale_container_recovers_from_the_refused_write_in_one_extra_call(dynamodb: Any) -> None:
    shard_a, shard_b = new_table(dynamodb), new_table(dynamodb)
    process_batch(batch(event("u1", 0), start=1, shard="shardId-000000000000"), shard_a)
    shard_b.prefetch(["u1"])
    process_batch(batch(event("u1", 1), start=2, shard="shardId-000000000000"), shard_a)
    counter = CallCounter(dynamodb)
    # shard_b believes the item is at version 1; it is at 2. The refused write returns the item.
    process_batch(batch(event("u1", 2), start=1, shard="shardId-000000000001"), shard_b)
    assert counter.calls == {"UpdateItem": 2}
    item = stored(dynamodb, "u1")
    assert item is not None and item["state"]["version"] == 3
    assert item["features"]["totalCount"] == 3 and item["features"]["count5min"] == 3


@pytest.fixture
def item_atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies one item's conditional writes one at a time; moto's backend needs a lock for that."""
    lock = threading.Lock()
    original = DynamoDBBackend.update_item

    def serialised(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", serialised)


class SlowConflictCounter:
    """Delays each write a little so two shards' writes interleave, and counts refused writes."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.refused = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **kwargs: Any) -> Any:
        time.sleep(0.002)
        try:
            return self._client.update_item(**kwargs)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                self.refused += 1
            raise


def test_two_shards_writing_one_user_concurrently_lose_no_update(dynamodb: Any, item_atomic_moto: None) -> None:
    rounds, per_batch = 25, 8
    shards = ["shardId-000000000000", "shardId-000000000001"]
    batches = {
        shard: [
            batch(
                *[event("shared", r + k / 10 + n / 100) for k in range(per_batch)], start=1 + r * per_batch, shard=shard
            )
            for r in range(rounds)
        ]
        for n, shard in enumerate(shards)
    }
    client = SlowConflictCounter(dynamodb)
    start = threading.Barrier(2)

    def consume(shard: str) -> list[dict]:
        table = new_table(client, max_conflicts=50)  # its own container, its own cache
        start.wait()
        return [process_batch(b, table) for b in batches[shard]]

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(consume, shards))
    assert all(r == {"batchItemFailures": []} for shard_results in results for r in shard_results)
    assert client.refused > 0, "the writers never collided; the test proved nothing"
    item = stored(dynamodb, "shared")
    assert item is not None
    assert item["features"]["totalCount"] == 2 * rounds * per_batch
    expected = apply_events(
        UserFeatures("shared"), [decode_record(r) for shard in shards for b in batches[shard] for r in b]
    )
    assert expected is not None
    assert item["features"]["count5min"] == expected.count_5min == len(item["state"]["recentEventTimes"].value) // 4
    assert item["features"]["lastEventTime"] == format_timestamp(expected.last_event_ms or 0)
    assert item["features"]["lastEventTime"] == "2026-11-23T10:24:42.600Z"
    assert item["state"]["shardSequences"] == {s: sequence_number(rounds * per_batch) for s in shards}


def test_many_users_are_written_in_parallel(dynamodb: Any) -> None:
    records = batch(*[event(f"user-{i % 40}", i / 100) for i in range(400)])
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert process_batch(records, new_table(dynamodb), executor=pool) == {"batchItemFailures": []}
    assert sum(features(dynamodb, f"user-{i}")["totalCount"] for i in range(40)) == 400


def test_lambda_entry_point_reads_its_settings_from_the_environment(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("FEATURE_TTL_DAYS", "7")
    monkeypatch.setenv("WRITE_CONCURRENCY", "4")
    enrich._container.cache_clear()
    try:

        class Context:
            aws_request_id = "6f2c1e0a-0000-4000-8000-000000000001"

            def get_remaining_time_in_millis(self) -> int:
                return 58_000

        records = [*batch(event("u1", 0), event("u2", 0)), raw_record("???", sequence=3)]
        before = int(time.time())
        assert enrich.handler({"Records": records}, Context()) == {
            "batchItemFailures": [{"itemIdentifier": sequence_number(3)}]
        }
        item = stored(dynamodb, "u1")
        assert item is not None and before + 7 * 86_400 <= item["expiresAt"] <= int(time.time()) + 7 * 86_400
    finally:
        enrich._container.cache_clear()


def test_concurrent_batches_per_shard_refuse_records_not_keyed_by_user(dynamodb: Any) -> None:
    # With parallelizationFactor > 1, Lambda keeps the order per partition key only: a record of
    # "u1" keyed "device-9" may be applied after a higher-numbered one and then skipped as a redelivery.
    keyed = record(event("u1", 0), sequence=1)
    foreign = raw_record(record(event("u1", 1), sequence=2)["kinesis"]["data"], sequence=2, key="device-9")
    table = new_table(dynamodb)
    assert process_batch([keyed, foreign], table, user_partition_key=True) == {
        "batchItemFailures": [{"itemIdentifier": sequence_number(2)}]
    }
    assert features(dynamodb, "u1")["totalCount"] == 1
    # One batch at a time per shard keeps the shard's order: any partition key is applied.
    assert process_batch([foreign], new_table(dynamodb)) == {"batchItemFailures": []}
    assert features(dynamodb, "u1")["totalCount"] == 2


def test_entry_point_requires_user_partition_keys_only_with_parallel_batches(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", TABLE)
    foreign = raw_record(record(event("u7", 0), sequence=5)["kinesis"]["data"], sequence=5, key="device-9")
    enrich._container.cache_clear()
    try:
        monkeypatch.setenv("PARALLELIZATION_FACTOR", "2")
        assert enrich.handler({"Records": [foreign]}, None) == {
            "batchItemFailures": [{"itemIdentifier": sequence_number(5)}]
        }
        monkeypatch.setenv("PARALLELIZATION_FACTOR", "1")
        assert enrich.handler({"Records": [foreign]}, None) == {"batchItemFailures": []}
        assert features(dynamodb, "u7")["totalCount"] == 1
    finally:
        enrich._container.cache_clear()


def test_each_writer_thread_gets_its_own_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("WRITE_CONCURRENCY", "24")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    enrich._container.cache_clear()
    try:
        table, executor = enrich._container()
        assert executor._max_workers == 24
        assert table.client.meta.config.max_pool_connections == 24
    finally:
        enrich._container.cache_clear()


# --- refused at decode: future events, unstorable values; skipped records are counted -------------


def emf_lines(out: str) -> list[dict[str, Any]]:
    return [line for line in map(json.loads, out.strip().splitlines()) if "_aws" in line]


def test_future_stamped_event_is_parked_and_never_freezes_the_user(dynamodb: Any, captured, capsys) -> None:
    logger, logs = captured
    table = new_table(dynamodb)
    frozen = {"userId": "u1", "eventType": "bot", "timestamp": "9999-01-01T00:00:00Z"}
    records = [
        record(event("u1", 0, eventType="view"), sequence=1),
        record(frozen, sequence=2, arrival=T0.timestamp() + 1),
        record(event("u1", 1, eventType="buy"), sequence=3),
    ]
    assert process_batch(records, table, logger=logger) == {
        "batchItemFailures": [{"itemIdentifier": sequence_number(2)}]
    }
    reason = next(r.reason for r in logs.records if r.getMessage() == "malformed record")
    assert "after the record reached the stream" in reason
    # Later events still move the user's features: nothing is stuck at 9999.
    process_batch([record(event("u1", 2, eventType="leave"), sequence=4)], table)
    assert features(dynamodb, "u1")["lastEventTime"] == "2026-11-23T10:02:00.000Z"
    assert features(dynamodb, "u1")["lastEventType"] == "leave" and features(dynamodb, "u1")["totalCount"] == 3
    metrics = emf_lines(capsys.readouterr().out)
    assert metrics[0]["MalformedRecords"] == 1 and metrics[0]["RecordsApplied"] == 2


def test_future_skew_comes_from_the_environment(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert enrich.future_skew_from_env({}) == timedelta(minutes=5)
    assert enrich.future_skew_from_env({"FUTURE_SKEW_SECONDS": "30"}) == timedelta(seconds=30)
    with pytest.raises(ValueError, match="FUTURE_SKEW_SECONDS must be a whole number of seconds, got '-5'"):
        enrich.future_skew_from_env({"FUTURE_SKEW_SECONDS": "-5"})
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("FUTURE_SKEW_SECONDS", "30")
    ahead = record(event("u1", 1), sequence=1, arrival=T0.timestamp())  # 60 s ahead of its arrival
    enrich._container.cache_clear()
    try:
        assert enrich.handler({"Records": [ahead]}, None) == {
            "batchItemFailures": [{"itemIdentifier": sequence_number(1)}]
        }
        monkeypatch.setenv("FUTURE_SKEW_SECONDS", "120")
        assert enrich.handler({"Records": [ahead]}, None) == {"batchItemFailures": []}
    finally:
        enrich._container.cache_clear()


def test_unstorable_value_fails_only_its_record_not_the_users_batch(dynamodb: Any) -> None:
    huge = base64.b64encode(b'{"userId": "u1", "metric": 1e300, "timestamp": "2026-11-23T10:00:30Z"}').decode()
    records = [
        record(event("u1", 0, metric=1.5), sequence=1),
        raw_record(huge, sequence=2, key="u1"),
        record(event("u1", 1, eventType="x" * (MAX_TEXT_FEATURE_BYTES + 1)), sequence=3),
        record(event("u1", 2, metric=2.5), sequence=4),
    ]
    response = process_batch(records, new_table(dynamodb))
    assert response == {
        "batchItemFailures": [{"itemIdentifier": sequence_number(2)}, {"itemIdentifier": sequence_number(3)}]
    }
    assert features(dynamodb, "u1")["totalCount"] == 2 and features(dynamodb, "u1")["lastMetric"] == Decimal("2.5")


def test_records_skipped_behind_the_watermark_are_logged_and_counted(dynamodb: Any, captured, capsys) -> None:
    logger, logs = captured
    records = batch(event("u1", 0), event("u2", 0), event("u1", 1))
    process_batch(records, new_table(dynamodb), logger=logger)
    capsys.readouterr()
    # Lambda redelivers the batch (e.g. after a timeout): nothing changes, and it says so.
    assert process_batch(records, new_table(dynamodb), logger=logger) == {"batchItemFailures": []}
    skipped = next(r for r in logs.records if r.getMessage().startswith("records skipped behind the shard watermark"))
    assert sorted(skipped.sequenceNumbers) == [sequence_number(i) for i in (1, 2, 3)]
    (metric,) = emf_lines(capsys.readouterr().out)
    assert metric["RecordsSkippedBehindWatermark"] == 3 and metric["RecordsApplied"] == 0
    assert metric["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Platform/FeatureStore"
    assert {"Name": "RecordsSkippedBehindWatermark", "Unit": "Count"} in metric["_aws"]["CloudWatchMetrics"][0][
        "Metrics"
    ]
    assert metric["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FunctionName"]]
    assert features(dynamodb, "u1")["totalCount"] == 2


def test_writes_that_might_outlive_the_invocation_are_not_started_but_reported(dynamodb: Any, captured) -> None:
    logger, logs = captured
    assert enrich.WRITE_RESERVE_SECONDS == feature_write_policy(1).worst_case_seconds() + 1 == 16.0
    clock = iter([40.0, 15.9])  # the first write starts with 40 s left; the second would have 15.9 s
    records = batch(event("u1", 0), event("u2", 0), event("u2", 1))
    response = process_batch(records, new_table(dynamodb), logger=logger, time_left=lambda: next(clock))
    assert response == {"batchItemFailures": [{"itemIdentifier": sequence_number(i)} for i in (2, 3)]}
    assert features(dynamodb, "u1")["totalCount"] == 1 and stored(dynamodb, "u2") is None
    skipped = next(r for r in logs.records if r.getMessage().startswith("feature write not attempted"))
    assert skipped.userId == "u2" and skipped.secondsLeft == 15.9
