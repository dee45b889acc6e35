"""Pure feature rules: decoding, validation, grouping and merging, on plain values."""

from __future__ import annotations

import base64
import struct
from datetime import timedelta
from decimal import Decimal

import pytest
from boto3.dynamodb.types import Binary

from handlers.feature_store.features import (
    FEATURE_ATTRIBUTES,
    MAX_TEXT_FEATURE_BYTES,
    MalformedRecordError,
    UserFeatures,
    apply_events,
    decode_record,
    format_timestamp,
    group_by_user,
    item_attributes,
    model_features,
    parse_timestamp,
    state_from_item,
)
from tests.feature_store.streams import BASE_SEQUENCE, T0, event, raw_record, record, sequence_number

T0_MS = int(T0.timestamp()) * 1000
MINUTE = 60_000


def decoded(payload, sequence: int = 1, shard: str = "shardId-000000000000"):
    return decode_record(record(payload, sequence=sequence, shard=shard))


# --- decoding -----------------------------------------------------------------------------------


def test_base64_json_record_decodes_to_an_event_with_its_shard_and_sequence() -> None:
    decoded_event = decoded(event("u1", 1, eventType="purchase"), sequence=7, shard="shardId-000000000003")
    assert decoded_event.user_id == "u1"
    assert decoded_event.at_ms == T0_MS + MINUTE
    assert decoded_event.event_type == "purchase"
    assert decoded_event.metric is None
    assert decoded_event.shard_id == "shardId-000000000003"
    assert decoded_event.sequence == BASE_SEQUENCE + 7
    assert decoded_event.sequence_number == sequence_number(7)


def test_metric_keeps_its_exact_decimal_value() -> None:
    decoded_event = decoded({"userId": "u1", "metric": 0.1, "timestamp": "2026-11-23T10:00:00Z"})
    assert decoded_event.metric == Decimal("0.1")
    assert decoded({"userId": "u1", "metric": 42, "timestamp": "2026-11-23T10:00:00Z"}).metric == 42


@pytest.mark.parametrize(
    ("text", "expected_ms"),
    [
        ("2026-11-23T10:00:00Z", T0_MS),
        ("2026-11-23T10:00:00+00:00", T0_MS),
        ("2026-11-23T11:30:00+01:30", T0_MS),
        ("2026-11-23T10:00:00", T0_MS),  # no offset: UTC
        ("2026-11-23T10:00:00.250Z", T0_MS + 250),
        ("2026-11-23T05:00:00-05:00", T0_MS),
    ],
)
def test_timestamps_with_or_without_offset(text: str, expected_ms: int) -> None:
    assert parse_timestamp(text) == expected_ms


def test_formatted_timestamps_are_utc_iso_and_round_trip() -> None:
    assert format_timestamp(T0_MS + 250) == "2026-11-23T10:00:00.250Z"
    assert parse_timestamp(format_timestamp(T0_MS + 250)) == T0_MS + 250


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("not base64 at all!", "not base64"),
        (base64.b64encode(b"{not json").decode(), "does not hold JSON"),
        (base64.b64encode(b"\xff\xfe").decode(), "does not hold JSON"),
        (base64.b64encode(b"[1, 2]").decode(), "must be a JSON object"),
    ],
)
def test_undecodable_data_is_malformed(data: str, reason: str) -> None:
    with pytest.raises(MalformedRecordError, match=reason):
        decode_record(raw_record(data, sequence=1))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"eventType": "click", "timestamp": "2026-11-23T10:00:00Z"}, "userId must be non-empty text"),
        ({"userId": "", "eventType": "click", "timestamp": "2026-11-23T10:00:00Z"}, "userId must be non-empty"),
        ({"userId": 12, "eventType": "click", "timestamp": "2026-11-23T10:00:00Z"}, "userId must be non-empty"),
        ({"userId": "x" * 2049, "eventType": "click", "timestamp": "2026-11-23T10:00:00Z"}, "longer than 2048"),
        ({"userId": "u1", "timestamp": "2026-11-23T10:00:00Z"}, "needs eventType or metric"),
        ({"userId": "u1", "eventType": "click"}, "timestamp is missing"),
        ({"userId": "u1", "eventType": "click", "timestamp": "yesterday"}, "'yesterday' is not ISO-8601"),
        ({"userId": "u1", "eventType": "click", "timestamp": 1795428000}, "must be ISO-8601 text"),
        ({"userId": "u1", "eventType": 3, "timestamp": "2026-11-23T10:00:00Z"}, "eventType must be non-empty"),
        ({"userId": "u1", "metric": True, "timestamp": "2026-11-23T10:00:00Z"}, "metric must be a number"),
        ({"userId": "u1", "metric": [1], "timestamp": "2026-11-23T10:00:00Z"}, "metric must be a number"),
    ],
)
def test_events_missing_or_bad_fields_are_malformed(payload: dict, reason: str) -> None:
    with pytest.raises(MalformedRecordError, match=reason):
        decoded(payload)


def test_record_without_shard_in_event_id_is_malformed() -> None:
    broken = record(event("u1"), sequence=1)
    broken["eventID"] = "no-shard"
    with pytest.raises(MalformedRecordError, match="does not name the shard"):
        decode_record(broken)


def test_grouping_keeps_stream_order_per_user() -> None:
    events = [decoded(event(user, i), sequence=i) for i, user in enumerate(["a", "b", "a", "c", "a"])]
    grouped = group_by_user(events)
    assert list(grouped) == ["a", "b", "c"]
    assert [e.sequence - BASE_SEQUENCE for e in grouped["a"]] == [0, 2, 4]


# --- merging ------------------------------------------------------------------------------------


def merged(state: UserFeatures, *payloads_and_sequences: tuple[dict, int], shard: str = "shardId-000000000000"):
    events = [decoded(p, sequence=s, shard=shard) for p, s in payloads_and_sequences]
    return apply_events(state, events)


def test_first_events_build_every_feature() -> None:
    state = merged(
        UserFeatures("u1"),
        (event("u1", 0, eventType="view"), 1),
        (event("u1", 1, metric=7), 2),
        (event("u1", 2, eventType="purchase"), 3),
    )
    assert state is not None
    assert state.version == 1
    assert state.total_count == 3
    assert state.last_event_ms == T0_MS + 2 * MINUTE
    assert (state.last_event_type, state.last_event_type_ms) == ("purchase", T0_MS + 2 * MINUTE)
    # The newest event has no metric: lastMetric stays the newest metric seen, it is not erased.
    assert (state.last_metric, state.last_metric_ms) == (7, T0_MS + MINUTE)
    assert state.count_5min == 3
    assert state.shard_sequences == {"shardId-000000000000": BASE_SEQUENCE + 3}


def test_rolling_count_rolls_instead_of_resetting() -> None:
    state = merged(UserFeatures("u1"), *[(event("u1", m), i) for i, m in enumerate([0, 2, 4, 6], start=1)])
    assert state is not None
    # Newest is minute 6: minutes 2, 4 and 6 lie within 5 minutes of it. A counter that only increments
    # would say 4, and one that resets when the window passes would say 1; neither is a rolling count.
    assert state.count_5min == 3
    later = merged(state, (event("u1", 7, seconds=30), 5))
    assert later is not None and later.count_5min == 3  # 4, 6, 7:30
    assert later.recent_ms == (T0_MS + 4 * MINUTE, T0_MS + 6 * MINUTE, T0_MS + 7 * MINUTE + 30_000)


def test_window_boundary_is_inclusive_at_exactly_five_minutes() -> None:
    state = merged(UserFeatures("u1"), (event("u1", 0), 1), (event("u1", 5), 2))
    assert state is not None and state.count_5min == 2
    state = merged(state, (event("u1", 5, seconds=0.001), 3))
    assert state is not None and state.count_5min == 2


def test_redelivered_events_change_nothing() -> None:
    state = merged(UserFeatures("u1"), (event("u1", 0), 1), (event("u1", 1), 2))
    assert state is not None
    assert merged(state, (event("u1", 0), 1), (event("u1", 1), 2)) is None


def test_retry_from_a_failed_record_applies_only_what_is_new() -> None:
    state = merged(UserFeatures("u1"), (event("u1", 0), 10), (event("u1", 1), 20))
    assert state is not None
    retried = merged(state, (event("u1", 0), 10), (event("u1", 1), 20), (event("u1", 2), 30))
    assert retried is not None
    assert retried.total_count == 3
    assert retried.count_5min == 3


def test_sequences_are_tracked_per_shard() -> None:
    state = merged(UserFeatures("u1"), (event("u1", 0), 100), shard="shardId-000000000000")
    assert state is not None
    other_shard = merged(state, (event("u1", 1), 5), shard="shardId-000000000001")
    assert other_shard is not None and other_shard.total_count == 2


def test_older_events_count_but_never_move_last_backwards() -> None:
    state = merged(UserFeatures("u1"), (event("u1", 10, eventType="purchase", metric=5), 1))
    assert state is not None
    late = merged(state, (event("u1", 7, eventType="view", metric=1), 2), (event("u1", 1, eventType="old"), 3))
    assert late is not None
    assert late.last_event_ms == T0_MS + 10 * MINUTE
    assert (late.last_event_type, late.last_metric) == ("purchase", 5)
    assert late.total_count == 3
    # Minute 7 is within 5 minutes of the newest (10); minute 1 is not.
    assert late.count_5min == 2


def test_state_round_trips_through_the_item() -> None:
    state = merged(
        UserFeatures("u1"),
        (event("u1", 0, eventType="view"), 1),
        (event("u1", 1, metric=2.5), 2),
    )
    assert state is not None
    item = {"userId": "u1", **item_attributes(state, expires_at=1_800_000_000)}
    assert item["state"]["shardSequences"] == {"shardId-000000000000": sequence_number(2)}
    assert item["features"]["lastEventTime"] == "2026-11-23T10:01:00.000Z"
    assert item["features"]["count5min"] == 2 and item["expiresAt"] == 1_800_000_000
    assert item["state"]["recentEventTimes"] == struct.pack(">2I", 60_000, 0)
    assert state.last_metric == Decimal("2.5")
    assert state_from_item("u1", item) == state
    # boto3 reads binary attributes back as Binary; the state must rebuild from that too.
    item["state"]["recentEventTimes"] = Binary(item["state"]["recentEventTimes"])
    assert state_from_item("u1", item) == state
    assert state_from_item("u1", None) == UserFeatures("u1")


def test_model_features_are_only_the_features() -> None:
    item = {"userId": "u1", "state": {"version": 3}, "features": {"totalCount": 3, "debug": "x"}, "expiresAt": 1}
    assert model_features(item) == {"totalCount": 3}
    assert model_features({"userId": "u1"}) == {}
    assert set(FEATURE_ATTRIBUTES) == {"lastEventTime", "lastEventType", "lastMetric", "totalCount", "count5min"}


def test_record_keyed_by_another_partition_key_is_malformed_only_when_users_must_be_keys() -> None:
    data = record({"userId": "u1", "eventType": "click", "timestamp": "2026-11-23T10:00:00Z"}, sequence=1)
    foreign = raw_record(data["kinesis"]["data"], sequence=1, key="device-9")
    assert decode_record(foreign).user_id == "u1"
    assert decode_record(data, user_partition_key=True).user_id == "u1"
    with pytest.raises(MalformedRecordError, match="partitionKey 'device-9' is not the event's userId 'u1'"):
        decode_record(foreign, user_partition_key=True)


# --- events from the future and values DynamoDB cannot store (refused at decode time) -------------


def test_future_event_beyond_arrival_plus_skew_is_malformed() -> None:
    payload = {"userId": "u1", "eventType": "click", "timestamp": "9999-12-31T23:59:59Z"}
    frozen = record(payload, sequence=1, arrival=T0.timestamp())
    with pytest.raises(MalformedRecordError, match=r"9999-12-31T23:59:59.000Z is \d+ s after the record reached"):
        decode_record(frozen)


def test_future_skew_is_the_configured_tolerance_for_producer_clocks() -> None:
    arrived = T0.timestamp()
    ahead = record(event("u1", 4, seconds=59), sequence=1, arrival=arrived)  # 299 s ahead of its arrival
    assert decode_record(ahead).at_ms == T0_MS + 299_000
    with pytest.raises(MalformedRecordError, match="at most 60 s of producer clock skew"):
        decode_record(ahead, future_skew=timedelta(seconds=60))
    too_far = record(event("u1", 5, seconds=1), sequence=2, arrival=arrived)
    with pytest.raises(MalformedRecordError, match="301 s after the record reached the stream"):
        decode_record(too_far)
    # Late events (stamped before their arrival) are normal: they count, they never freeze anything.
    assert decode_record(record(event("u1", -60), sequence=3, arrival=arrived)).at_ms == T0_MS - 60 * MINUTE


def test_future_check_needs_the_arrival_time_lambda_always_sends() -> None:
    missing = record(event("u1", 0), sequence=1)
    del missing["kinesis"]["approximateArrivalTimestamp"]
    with pytest.raises(MalformedRecordError, match="approximateArrivalTimestamp must be epoch seconds, got None"):
        decode_record(missing)


def _raw_json(text: str, sequence: int = 1) -> dict:
    return raw_record(base64.b64encode(text.encode()).decode(), sequence=sequence, key="u1")


@pytest.mark.parametrize(
    ("metric_json", "reason"),
    [
        ("1234567890123456789012345678901234567890", "38 significant digits"),
        ("1.234567890123456789012345678901234567890", "38 significant digits"),
        ("1e200", "outside DynamoDB's number range"),
        ("-1e200", "outside DynamoDB's number range"),
        ("1e-200", "outside DynamoDB's number range"),
    ],
)
def test_numbers_dynamodb_cannot_store_are_malformed_at_decode(metric_json: str, reason: str) -> None:
    text = '{"userId": "u1", "metric": ' + metric_json + ', "timestamp": "2026-11-23T10:00:00Z"}'
    with pytest.raises(MalformedRecordError, match=f"metric cannot be stored: .*{reason}"):
        decode_record(_raw_json(text))


@pytest.mark.parametrize("field", ["eventType", "metric"])
def test_text_that_would_push_the_item_past_400_kb_is_malformed_at_decode(field: str) -> None:
    payload = {"userId": "u1", "timestamp": "2026-11-23T10:00:00Z", field: "é" * (MAX_TEXT_FEATURE_BYTES // 2 + 1)}
    with pytest.raises(MalformedRecordError, match=f"{field} is {MAX_TEXT_FEATURE_BYTES + 2} bytes; at most"):
        decoded(payload)
    payload[field] = "x" * MAX_TEXT_FEATURE_BYTES  # exactly at the limit: fine
    assert decoded(payload).user_id == "u1"


def test_deeply_nested_record_data_is_malformed_not_a_crash() -> None:
    with pytest.raises(MalformedRecordError, match="nests JSON too deeply"):
        decode_record(_raw_json('{"userId": "u1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"))
