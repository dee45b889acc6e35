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
- `appliedLog`: per shard, the sequence numbers of the last APPLIED_LOG_SIZE records applied (packed
  as 16-byte offsets below the shard's watermark) and `verifiedFrom`, the sequence at or below which
  the log no longer reaches. A parked record replayed after the watermark moved past it is applied
  only if the log shows it never was (see merge_events): replay is idempotent per record.
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

from handlers.common.dynamo import UnstorableValueError, check_number
from handlers.common.jsonutil import loads

ROLLING_WINDOW = timedelta(minutes=5)
ROLLING_WINDOW_MS = ROLLING_WINDOW // timedelta(milliseconds=1)
# DynamoDB refuses partition keys longer than 2048 bytes; refuse such events before the write does.
MAX_USER_ID_BYTES = 2048
# An item holds at most 400 KB. Each text feature (eventType, a text metric) may take 64 KiB, so both
# together with the key stay far below it and the rest is left to the window and the bookkeeping: a
# record that would push the item past the limit is refused when decoded, alone, never at its write.
MAX_TEXT_FEATURE_BYTES = 64 * 1024
# Events stamped later than their record's arrival in the stream plus this are refused (producer
# clock error); one event stamped 9999 would otherwise own lastEventTime for good.
DEFAULT_FUTURE_SKEW = timedelta(minutes=5)
# Per user and shard, how many applied records the item remembers for replays (16 bytes each).
APPLIED_LOG_SIZE = 32
_OFFSET_BYTES = 16
_MAX_OFFSET = 1 << (8 * _OFFSET_BYTES)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Item layout: {userId, features: {...}, state: {...}, expiresAt}. The model sees `features` only.
FEATURES, STATE, TTL_ATTRIBUTE = "features", "state", "expiresAt"
FEATURE_ATTRIBUTES: tuple[str, ...] = ("lastEventTime", "lastEventType", "lastMetric", "totalCount", "count5min")
# Computed when served, never stored: seconds since lastEventTime.
AGE_ATTRIBUTE = "lastEventAgeSeconds"


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


def _check_text_size(key: str, value: str) -> None:
    size = len(value.encode())
    if size > MAX_TEXT_FEATURE_BYTES:
        raise MalformedRecordError(
            f"{key} is {size} bytes; at most {MAX_TEXT_FEATURE_BYTES} fit in a feature item (400 KB in all)"
        )


def _optional_text(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise MalformedRecordError(f"{key} must be non-empty text, got {value!r}")
    _check_text_size(key, value)
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
    if isinstance(value, str):
        _check_text_size("metric", value)
    else:
        try:
            check_number(value)
        except UnstorableValueError as error:
            raise MalformedRecordError(f"metric cannot be stored: {error}") from None
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


def arrival_ms(record: Mapping[str, Any]) -> int:
    """When the record reached the stream (`kinesis.approximateArrivalTimestamp`, epoch seconds)."""
    value = (record.get("kinesis") or {}).get("approximateArrivalTimestamp")
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise MalformedRecordError(f"kinesis.approximateArrivalTimestamp must be epoch seconds, got {value!r}")
    return int(Decimal(str(value)) * 1000)


def check_not_future(event: FeatureEvent, arrived_ms: int, skew: timedelta) -> None:
    """Refuse an event stamped later than its record's arrival plus the accepted clock skew."""
    limit_ms = arrived_ms + skew // timedelta(milliseconds=1)
    if event.at_ms > limit_ms:
        ahead = timedelta(milliseconds=event.at_ms - arrived_ms)
        raise MalformedRecordError(
            f"timestamp {format_timestamp(event.at_ms)} is {ahead.total_seconds():.0f} s after the record "
            f"reached the stream ({format_timestamp(arrived_ms)}); at most {skew.total_seconds():.0f} s of "
            "producer clock skew is accepted"
        )


def decode_record(
    record: Mapping[str, Any], *, user_partition_key: bool = False, future_skew: timedelta = DEFAULT_FUTURE_SKEW
) -> FeatureEvent:
    """A Kinesis event source record -> FeatureEvent. Its `kinesis.data` is base64 of JSON.

    Refused as malformed, so only this record fails (reported, then parked): bad encoding or fields,
    a number or text DynamoDB cannot store, and an event later than the record's arrival + `future_skew`.

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
    except RecursionError:
        raise MalformedRecordError("kinesis.data nests JSON too deeply") from None
    event = parse_event(payload, shard_id=shard_id, sequence_number=sequence_number)
    check_not_future(event, arrival_ms(record), future_skew)
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
    # Per shard: the last APPLIED_LOG_SIZE applied sequence numbers (ascending order of application),
    # and the sequence at or below which a record may have been applied without being in the log.
    applied_log: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    verified_from: Mapping[str, int] = field(default_factory=dict)

    @property
    def count_5min(self) -> int:
        return len(self.recent_ms)


@dataclass(frozen=True)
class Merge:
    """What merging events into a state did: the new state (None: nothing to write) and, per event,
    whether it was applied, skipped as already applied, or (replays only) too old to verify."""

    state: UserFeatures | None
    applied: tuple[FeatureEvent, ...] = ()
    skipped: tuple[FeatureEvent, ...] = ()
    unverifiable: tuple[FeatureEvent, ...] = ()


def _remember_applied(
    log: dict[str, tuple[int, ...]], verified: dict[str, int], shard: str, sequence: int, *, size: int
) -> None:
    entries = (*log.get(shard, ()), sequence)
    if len(entries) > size:
        dropped, entries = entries[: len(entries) - size], entries[len(entries) - size :]
        verified[shard] = max(verified.get(shard, -1), *dropped)
    log[shard] = entries


def merge_events(
    state: UserFeatures,
    events: Sequence[FeatureEvent],
    *,
    replay: bool = False,
    window_ms: int = ROLLING_WINDOW_MS,
    log_size: int = APPLIED_LOG_SIZE,
) -> Merge:
    """Merge `events` into `state`.

    From the stream (`replay=False`), an event at or below its shard's watermark was already applied
    (a redelivery) and is skipped. A replay of parked records applies such an event too, unless the
    applied log shows it was applied, or it is at or below `verifiedFrom` (the log no longer reaches
    back that far: it is reported as unverifiable, never guessed). Either way each record counts once.
    `last*` only move to an event at least as new as the one they describe; the window keeps every
    event within `window_ms` of the newest event time seen.
    """
    sequences = dict(state.shard_sequences)
    log = dict(state.applied_log)
    verified = dict(state.verified_from)
    fresh: list[FeatureEvent] = []
    skipped: list[FeatureEvent] = []
    unverifiable: list[FeatureEvent] = []
    for event in events:
        watermark = sequences.get(event.shard_id, -1)
        if event.sequence > watermark:
            sequences[event.shard_id] = event.sequence
        elif not replay or event.sequence in log.get(event.shard_id, ()):
            skipped.append(event)
            continue
        elif event.sequence <= verified.get(event.shard_id, -1):
            unverifiable.append(event)
            continue
        fresh.append(event)
        _remember_applied(log, verified, event.shard_id, event.sequence, size=log_size)
    if not fresh:
        return Merge(None, (), tuple(skipped), tuple(unverifiable))
    for shard, entries in log.items():
        # The log is stored as 16-byte offsets below the watermark; one too far behind is forgotten.
        kept = tuple(s for s in entries if sequences[shard] - s < _MAX_OFFSET)
        if len(kept) < len(entries):
            verified[shard] = max(verified.get(shard, -1), *(s for s in entries if s not in kept))
            log[shard] = kept
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
    updated = replace(
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
        applied_log=log,
        verified_from=verified,
    )
    return Merge(updated, tuple(fresh), tuple(skipped), tuple(unverifiable))


def apply_events(
    state: UserFeatures, events: Sequence[FeatureEvent], *, window_ms: int = ROLLING_WINDOW_MS
) -> UserFeatures | None:
    """The state after stream `events`, or None when every event is already reflected (a redelivery)."""
    return merge_events(state, events, window_ms=window_ms).state


def count_in_window(recent_ms: Sequence[int], now_ms: int, *, window_ms: int = ROLLING_WINDOW_MS) -> int:
    """Events of the stored window that are within `window_ms` before `now_ms` (the count served)."""
    return sum(1 for t in recent_ms if now_ms - window_ms <= t)


def pack_window(recent_ms: Sequence[int], newest_ms: int) -> bytes:
    """Window event times as big-endian uint32 offsets before the newest event (all fit: <= 5 min)."""
    return struct.pack(f">{len(recent_ms)}I", *(newest_ms - t for t in recent_ms))


def unpack_window(packed: bytes, newest_ms: int) -> tuple[int, ...]:
    offsets = struct.unpack(f">{len(packed) // 4}I", packed)
    return tuple(sorted(newest_ms - offset for offset in offsets))


def pack_applied(applied: Sequence[int], watermark: int) -> bytes:
    """Applied sequence numbers as 16-byte big-endian offsets below the shard watermark."""
    return b"".join((watermark - sequence).to_bytes(_OFFSET_BYTES, "big") for sequence in applied)


def unpack_applied(packed: bytes, watermark: int) -> tuple[int, ...]:
    return tuple(
        watermark - int.from_bytes(packed[i : i + _OFFSET_BYTES], "big") for i in range(0, len(packed), _OFFSET_BYTES)
    )


def _bytes(value: Any) -> bytes:
    # boto3 hands binary attributes back wrapped in a Binary; its .value holds the bytes.
    return bytes(getattr(value, "value", value) or b"")


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
    packed_bytes = _bytes(state.get("recentEventTimes"))
    # Sequence numbers have up to 128 digits, past DynamoDB's 38-digit numbers: stored as text.
    sequences = {shard: int(seq) for shard, seq in (state.get("shardSequences") or {}).items()}
    logs: Mapping[str, Any] = state.get("appliedLog") or {}
    verified: Mapping[str, Any] = state.get("verifiedFrom") or {}
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
        shard_sequences=sequences,
        applied_log={shard: unpack_applied(_bytes(logs[shard]), sequences[shard]) for shard in logs},
        # An item written before the applied log existed: nothing at or below its watermark is verifiable.
        verified_from={
            **{shard: int(seq) for shard, seq in verified.items()},
            **{shard: seq for shard, seq in sequences.items() if shard not in logs},
        },
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
        "appliedLog": {
            shard: pack_applied(applied, state.shard_sequences[shard])
            for shard, applied in sorted(state.applied_log.items())
        },
        "verifiedFrom": {shard: str(seq) for shard, seq in sorted(state.verified_from.items()) if seq >= 0},
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
    """The features as stored: exactly FEATURE_ATTRIBUTES present on the item."""
    features: Mapping[str, Any] = item.get(FEATURES) or {}
    return {key: features[key] for key in FEATURE_ATTRIBUTES if key in features}


def served_features(user_id: str, item: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """The feature vector sent to the model at `now_ms`.

    The stored `count5min` counts back from the user's newest event, so an idle user would show its
    last burst for days: it is recounted here against the current time from the stored window. And
    `lastEventAgeSeconds` says how old `lastEventTime` is (0 if the event is stamped ahead of now,
    which the accepted producer clock skew allows).
    """
    features = model_features(item)
    state = state_from_item(user_id, item)
    if state.last_event_ms is not None:
        features["count5min"] = count_in_window(state.recent_ms, now_ms)
        features[AGE_ATTRIBUTE] = max(0, now_ms - state.last_event_ms) // 1000
    return features
