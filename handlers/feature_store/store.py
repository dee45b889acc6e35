"""The feature table: one conditional UpdateItem per user and batch, safe under concurrent shards.

Each write carries the version its state was computed from (`version = :expected`, or no item yet).
The expected state comes from a per-container cache of what this container last wrote or read, so in
steady state a user costs exactly one call per batch. When another writer got there first, DynamoDB
refuses the write and (ReturnValuesOnConditionCheckFailure=ALL_OLD) hands back the current item in the
same response; the events are merged again onto it and written again: no read-modify-write race, no
lost update, and a bounded number of attempts.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from handlers.common.dynamo import from_dynamo, to_dynamo
from handlers.feature_store.features import (
    FEATURES,
    STATE,
    TTL_ATTRIBUTE,
    FeatureEvent,
    Merge,
    UserFeatures,
    item_attributes,
    merge_events,
    state_from_item,
)

BATCH_GET_LIMIT = 100


class WriteConflictError(RuntimeError):
    """Other writers kept changing the item for every attempt; the records are reported as failed."""


def update_request(table_name: str, state: UserFeatures, *, expected_version: int, expires_at: int) -> dict[str, Any]:
    """The UpdateItem parameters that write `state` only if the item is still at `expected_version`."""
    attributes = item_attributes(state, expires_at=expires_at)
    names = {"#f": FEATURES, "#s": STATE, "#e": TTL_ATTRIBUTE}
    values = {
        ":f": to_dynamo(attributes[FEATURES]),
        ":s": to_dynamo(attributes[STATE]),
        ":e": to_dynamo(attributes[TTL_ATTRIBUTE]),
    }
    if expected_version == 0:
        condition = "attribute_not_exists(#s)"
    else:
        names["#v"] = "version"
        values[":expected"] = to_dynamo(expected_version)
        condition = "#s.#v = :expected"
    return {
        "TableName": table_name,
        "Key": {"userId": to_dynamo(state.user_id)},
        "UpdateExpression": "SET #f = :f, #s = :s, #e = :e",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


@dataclass
class FeatureTable:
    """Writes users' features to the table; one instance per container (it owns the version cache).

    Throttles and transient errors are retried by the client itself (handlers.common.aws), never
    here: a call that still fails raises, and the user's records are reported for Lambda to retry.
    """

    client: Any
    table_name: str
    ttl_seconds: int
    cache_size: int = 50_000
    max_conflicts: int = 5
    unprocessed_rounds: int = 6
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self._cache: OrderedDict[str, UserFeatures] = OrderedDict()

    def cached(self, user_id: str) -> UserFeatures | None:
        return self._cache.get(user_id)

    def _remember(self, state: UserFeatures) -> None:
        self._cache[state.user_id] = state
        self._cache.move_to_end(state.user_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def prefetch(self, user_ids: Iterable[str]) -> None:
        """Load the state of users this container has not seen, 100 per BatchGetItem call.

        Eventually consistent reads are enough: a stale version only costs one refused write. Users
        whose keys DynamoDB keeps unprocessed stay uncached; their write then starts from no item.
        """
        missing = [user for user in dict.fromkeys(user_ids) if user not in self._cache]
        for start in range(0, len(missing), BATCH_GET_LIMIT):
            chunk = missing[start : start + BATCH_GET_LIMIT]
            found, unprocessed = self._batch_get(chunk)
            for user in chunk:
                if user not in unprocessed:
                    self._remember(state_from_item(user, found.get(user)))

    def _batch_get(self, user_ids: Sequence[str]) -> tuple[dict[str, dict[str, Any]], set[str]]:
        aliases = {f"#p{i}": key for i, key in enumerate(("userId", FEATURES, STATE, TTL_ATTRIBUTE))}
        request: dict[str, Any] = {
            self.table_name: {
                "Keys": [{"userId": to_dynamo(user)} for user in user_ids],
                "ProjectionExpression": ", ".join(aliases),
                "ExpressionAttributeNames": aliases,
            }
        }
        found: dict[str, dict[str, Any]] = {}
        # Not an error loop: UnprocessedKeys is a successful answer that left part of the work undone.
        for attempt in range(1, self.unprocessed_rounds + 1):
            response = self.client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(self.table_name, []):
                item = from_dynamo(raw)
                found[item["userId"]] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
            # Unprocessed keys are how DynamoDB throttles a batch read: back off, then ask again.
            self.sleep(min(2.0, 0.05 * 2**attempt))
        unprocessed = {from_dynamo(key)["userId"] for key in request.get(self.table_name, {}).get("Keys", [])}
        return found, unprocessed

    def apply(self, user_id: str, events: Sequence[FeatureEvent], *, replay: bool = False) -> Merge:
        """Merge `events` into the user's item atomically; raises if it cannot, never drops them.

        The result says which events were applied and which were skipped (already applied) or, for
        `replay` of parked records, could not be verified; `state` is None when nothing was written.
        """
        state = self._cache.get(user_id) or UserFeatures(user_id=user_id)
        for _ in range(self.max_conflicts):
            merge = merge_events(state, events, replay=replay)
            updated = merge.state
            if updated is None:
                self._remember(state)
                return merge
            request = update_request(
                self.table_name,
                updated,
                expected_version=state.version,
                expires_at=int(self.clock()) + self.ttl_seconds,
            )
            try:
                self.client.update_item(**request)
            except self.client.exceptions.ConditionalCheckFailedException as error:
                # Someone else wrote first: continue from what the item holds now.
                current = error.response.get("Item")
                state = state_from_item(user_id, from_dynamo(current) if current else None)
                continue
            self._remember(updated)
            return merge
        self._cache.pop(user_id, None)
        raise WriteConflictError(f"user {user_id!r} changed under every one of {self.max_conflicts} attempts")
