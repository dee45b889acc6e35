"""Pure feature logic of the feature store: decode Kinesis records, group them per user and merge them
into a user's feature state. No AWS calls here, so every rule is testable on plain values.

The item's `state` map carries what makes a blind, atomic, idempotent write possible:
- `version`: optimistic-concurrency counter; a write only lands if the item is still at the version the
  new state was computed from, so two shards updating one user never lose an update;
- `shardSequences`: per shard, the highest Kinesis sequence number already applied, so a redelivered
  batch (same shard and sequence numbers) changes nothing;
- `recentEventTimes`: the event times within the rolling window of the newest event, so the 5-minute
  count is exact (it rolls; it never resets). Packed as 4-byte offsets (ms) before `lastEventTime`:
  only a user sustaining ~300 events a second would reach DynamoDB's 400 KB item limit (the write is
  then refused, reported and parked in the failure queue, never silently cut).
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from handlers.common.jsonutil import loads

ROLLING_WINDOW = timedelta(minutes=5)
ROLLING_WINDOW_MS = ROLLING_WINDOW // timedelta(milliseconds=1)
# DynamoDB refuses partition keys longer than 2048 bytes; refuse such events before the write does.
MAX_USER_ID_BYTES = 2048
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Item layout: {userId, features: {...}, state: {...}, expiresAt}. The model sees `features` only.
FEATURES, STATE, TTL_ATTRIBUTE = "features", "state", "expiresAt"
FEATURE_ATTRIBUTES: tuple[str, ...] = ("lastEventTime", "lastEventType", "lastMetric", "totalCount", "count5min")


class MalformedRecordError(ValueError):
    """A record that can never be applied, whatever the retry: bad encoding, JSON or fields."""


@dataclass(frozen=True, slots=True)
class FeatureEvent:
    """One decoded event, with where it came from in the stream."""

    user_id: str
    at_ms: int
    event_type: str | None
    metric: Decimal | int | str | None
    shard_id: str
    sequence: int
    sequence_number: str


def parse_timestamp(value: Any) -> int:
    """ISO-8601 text (with or without offset; without offset means UTC) as epoch milliseconds."""
    if not isinstance(value, str) or not value:
        raise MalformedRecordError(f"timestamp must be ISO-8601 text, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedRecordError(f"timestamp {value!r} is not ISO-8601 (e.g. 2026-11-23T10:15:00Z)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def format_timestamp(at_ms: int) -> str:
    """Epoch milliseconds as UTC ISO-8601 with millisecond precision (sorts as text, reads as time)."""
    return (_EPOCH + timedelta(milliseconds=at_ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _optional_text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MalformedRecordError(f"{key} must be non-empty text, got {value!r}")
    return value


def _optional_metric(payload: Mapping[str, Any]) -> Decimal | int | str | None:
    value = payload.get("metric")
    if value is None:
        return None
    # bool is an int in Python but never a meaningful metric reading.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise MalformedRecordError(f"metric must be a number or text, got {value!r}")
    if isinstance(value, Decimal) and not value.is_finite():
        raise MalformedRecordError(f"metric must be finite, got {value!r}")
    return value


def parse_event(payload: Any, *, shard_id: str, sequence_number: str) -> FeatureEvent:
    """Validate one event `{userId, eventType|metric, timestamp}` (already JSON-decoded)."""
    if not isinstance(payload, dict):
        raise MalformedRecordError(f"event must be a JSON object, got {type(payload).__name__}")
    user_id = payload.get("userId")
    if not isinstance(user_id, str) or not user_id:
        raise MalformedRecordError(f"userId must be non-empty text, got {user_id!r}")
    if len(user_id.encode()) > MAX_USER_ID_BYTES:
        raise MalformedRecordError(f"userId is longer than {MAX_USER_ID_BYTES} bytes")
    event_type = _optional_text(payload, "eventType")
    metric = _optional_metric(payload)
    if event_type is None and metric is None:
        raise MalformedRecordError("event needs eventType or metric; it has neither")
    if "timestamp" not in payload:
        raise MalformedRecordError("timestamp is missing")
    return FeatureEvent(
        user_id=user_id,
        at_ms=parse_timestamp(payload["timestamp"]),
        event_type=event_type,
        metric=metric,
        shard_id=shard_id,
        sequence=int(sequence_number),
        sequence_number=sequence_number,
    )


def decode_record(record: Mapping[str, Any], *, user_partition_key: bool = False) -> FeatureEvent:
    """A Kinesis event source record -> FeatureEvent. Its `kinesis.data` is base64 of JSON.

    `user_partition_key`: the mapping runs several batches of one shard at once (parallelization
    factor > 1), and Lambda then keeps the order only per partition key. The per-shard sequence
    watermark that makes redeliveries no-ops would take a user's lower-numbered record in a slower
    concurrent batch for a redelivery and skip it, so each record must be keyed by its userId; one
    that is not is refused (reported, then parked in the failure queue), never silently skipped.
    """
    kinesis = record.get("kinesis") or {}
    sequence_number = kinesis.get("sequenceNumber")
    if not isinstance(sequence_number, str) or not sequence_number.isdigit():
        raise MalformedRecordError(f"kinesis.sequenceNumber must be decimal digits, got {sequence_number!r}")
    # eventID is "<shardId>:<sequenceNumber>"; sequence numbers are only ordered within one shard.
    shard_id, separator, _ = str(record.get("eventID", "")).partition(":")
    if not separator or not shard_id:
        raise MalformedRecordError(f"eventID {record.get('eventID')!r} does not name the shard")
    try:
        raw = base64.b64decode(kinesis.get("data", ""), validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise MalformedRecordError("kinesis.data is not base64") from None
    try:
        payload = loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MalformedRecordError("kinesis.data does not hold JSON") from None
    event = parse_event(payload, shard_id=shard_id, sequence_number=sequence_number)
    partition_key = kinesis.get("partitionKey")
    if user_partition_key and partition_key != event.user_id:
        raise MalformedRecordError(
            f"partitionKey {partition_key!r} is not the event's userId {event.user_id!r}; with a "
            "parallelizationFactor above 1 producers must use the userId as partition key"
        )
    return event


def group_by_user(events: Iterable[FeatureEvent]) -> dict[str, list[FeatureEvent]]:
    """Events per user, in stream order, so each user is written once per batch."""
    grouped: dict[str, list[FeatureEvent]] = {}
    for event in events:
        grouped.setdefault(event.user_id, []).append(event)
    return grouped


@dataclass(frozen=True)
class UserFeatures:
    """A user's features plus the bookkeeping that keeps writes atomic and idempotent."""

    user_id: str
    version: int = 0  # 0: no item yet
    total_count: int = 0
    last_event_ms: int | None = None
    last_event_type: str | None = None
    last_event_type_ms: int | None = None
    last_metric: Decimal | int | str | None = None
    last_metric_ms: int | None = None
    recent_ms: tuple[int, ...] = ()
    shard_sequences: Mapping[str, int] = field(default_factory=dict)

    @property
    def count_5min(self) -> int:
        return len(self.recent_ms)


def apply_events(
    state: UserFeatures, events: Sequence[FeatureEvent], *, window_ms: int = ROLLING_WINDOW_MS
) -> UserFeatures | None:
    """The state after `events`, or None when every event is already reflected (a redelivery).

    Events at or below their shard's applied sequence number are skipped; `last*` only move to an
    event at least as new as the one they describe; the window keeps every event within `window_ms`
    of the newest event time seen.
    """
    sequences = dict(state.shard_sequences)
    fresh: list[FeatureEvent] = []
    for event in events:
        if event.sequence > sequences.get(event.shard_id, -1):
            fresh.append(event)
            sequences[event.shard_id] = event.sequence
    if not fresh:
        return None
    last_ms = state.last_event_ms
    type_value, type_ms = state.last_event_type, state.last_event_type_ms
    metric_value, metric_ms = state.last_metric, state.last_metric_ms
    for event in fresh:
        if last_ms is None or event.at_ms >= last_ms:
            last_ms = event.at_ms
        if event.event_type is not None and (type_ms is None or event.at_ms >= type_ms):
            type_value, type_ms = event.event_type, event.at_ms
        if event.metric is not None and (metric_ms is None or event.at_ms >= metric_ms):
            metric_value, metric_ms = event.metric, event.at_ms
    assert last_ms is not None
    horizon = last_ms - window_ms
    recent = tuple(sorted(t for t in (*state.recent_ms, *(e.at_ms for e in fresh)) if t >= horizon))
    return replace(
        state,
        version=state.version + 1,
        total_count=state.total_count + len(fresh),
        last_event_ms=last_ms,
        last_event_type=type_value,
        last_event_type_ms=type_ms,
        last_metric=metric_value,
        last_metric_ms=metric_ms,
        recent_ms=recent,
        shard_sequences=sequences,
    )


def pack_window(recent_ms: Sequence[int], newest_ms: int) -> bytes:
    """Window event times as big-endian uint32 offsets before the newest event (all fit: <= 5 min)."""
    return struct.pack(f">{len(recent_ms)}I", *(newest_ms - t for t in recent_ms))


def unpack_window(packed: bytes, newest_ms: int) -> tuple[int, ...]:
    offsets = struct.unpack(f">{len(packed) // 4}I", packed)
    return tuple(sorted(newest_ms - offset for offset in offsets))


def _ms(values: Mapping[str, Any], key: str) -> int | None:
    value = values.get(key)
    return None if value is None else parse_timestamp(value)


def state_from_item(user_id: str, item: Mapping[str, Any] | None) -> UserFeatures:
    """Rebuild the state from a deserialised DynamoDB item (None: the user has no item yet)."""
    if not item:
        return UserFeatures(user_id=user_id)
    features: Mapping[str, Any] = item.get(FEATURES) or {}
    state: Mapping[str, Any] = item.get(STATE) or {}
    last_event_ms = _ms(features, "lastEventTime")
    packed = state.get("recentEventTimes")
    # boto3 hands binary attributes back wrapped in a Binary; its .value holds the bytes.
    packed_bytes = bytes(getattr(packed, "value", packed) or b"")
    return UserFeatures(
        user_id=user_id,
        version=int(state.get("version", 0)),
        total_count=int(features.get("totalCount", 0)),
        last_event_ms=last_event_ms,
        last_event_type=features.get("lastEventType"),
        last_event_type_ms=_ms(state, "lastEventTypeTime"),
        last_metric=features.get("lastMetric"),
        last_metric_ms=_ms(state, "lastMetricTime"),
        recent_ms=unpack_window(packed_bytes, last_event_ms) if last_event_ms is not None else (),
        # Sequence numbers have up to 128 digits, past DynamoDB's 38-digit numbers: stored as text.
        shard_sequences={shard: int(seq) for shard, seq in (state.get("shardSequences") or {}).items()},
    )


def item_attributes(state: UserFeatures, *, expires_at: int) -> dict[str, Any]:
    """The attributes a write sets (all but the key), as Python values for the DynamoDB serializer.

    Three attributes: `features` (what the model reads), `state` (bookkeeping, with the version the
    write is conditioned on) and `expiresAt` (TTL, which must be a top-level number).
    """
    features: dict[str, Any] = {"totalCount": state.total_count, "count5min": state.count_5min}
    bookkeeping: dict[str, Any] = {
        "version": state.version,
        "shardSequences": {shard: str(seq) for shard, seq in sorted(state.shard_sequences.items())},
    }
    if state.last_event_ms is not None:
        features["lastEventTime"] = format_timestamp(state.last_event_ms)
        bookkeeping["recentEventTimes"] = pack_window(state.recent_ms, state.last_event_ms)
    if state.last_event_type_ms is not None:
        features["lastEventType"] = state.last_event_type
        bookkeeping["lastEventTypeTime"] = format_timestamp(state.last_event_type_ms)
    if state.last_metric_ms is not None:
        features["lastMetric"] = state.last_metric
        bookkeeping["lastMetricTime"] = format_timestamp(state.last_metric_ms)
    return {FEATURES: features, STATE: bookkeeping, TTL_ATTRIBUTE: expires_at}


def model_features(item: Mapping[str, Any]) -> dict[str, Any]:
    """The feature vector sent to the model: exactly FEATURE_ATTRIBUTES present on the item."""
    features: Mapping[str, Any] = item.get(FEATURES) or {}
    return {key: features[key] for key in FEATURE_ATTRIBUTES if key in features}
