"""DynamoDB's concurrency, in front of moto's tables, as far as the order workflow depends on it.

moto's in-memory tables are not thread-safe (a cancelled transaction restores a snapshot of the
whole table), so every request runs under one lock: that models DynamoDB's per-request atomicity.
But a lock alone hides the other half of DynamoDB's behaviour: a request never waits for another,
it is refused. With `conflicts=True` this model also does what DynamoDB does to requests that
overlap in time on the same item. Requests are applied one at a time; a write then keeps its items
for `commit_seconds` more (the commit phase of DynamoDB's transactions, which the one-at-a-time
lock does not model), and a request arriving for those items meanwhile is refused:

* a TransactWriteItems touching an item that another transaction or a single write is working on
  is cancelled: TransactionCanceledException with `TransactionConflict` for that item and `None`
  for the others;
* a PutItem/UpdateItem/DeleteItem on an item an ongoing transaction holds fails with
  TransactionConflictException;
* single writes do not conflict with each other, and reads never conflict.

(DynamoDB developer guide, "Transaction conflict handling in DynamoDB".)
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from moto.core.utils import camelcase_to_underscores
from moto.dynamodb.exceptions import DynamodbException, TransactionCanceledException
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

SINGLE_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
ItemKey = tuple[str, str]


class TransactionConflictException(DynamodbException):
    error_type = "com.amazonaws.dynamodb.v20120810#TransactionConflictException"

    def __init__(self, message: str) -> None:
        super().__init__(self.error_type, message)


class DynamoDbConcurrency:
    """Wraps moto's DynamoHandler.call_action (see module docstring). Counts the conflicts it raised."""

    def __init__(self, *, conflicts: bool, commit_seconds: float = 0.005) -> None:
        self.conflicts = conflicts
        self.commit_seconds = commit_seconds
        self.cancelled_transactions = 0
        self.refused_writes = 0
        self._tables = threading.Lock()
        self._registry = threading.Lock()
        self._transactions: Counter[ItemKey] = Counter()
        self._writes: Counter[ItemKey] = Counter()

    def wrap(self, original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        model = self

        def call_action(handler: Any) -> Any:
            action = handler._get_action()
            if not model.conflicts or action not in SINGLE_WRITES | {"TransactWriteItems"}:
                with model._tables:
                    return original(handler)
            return model._write(handler, action, original)

        return call_action

    def _write(self, handler: Any, action: str, original: Callable[[Any], Any]) -> Any:
        body = json.loads(handler.body)
        transactional = action == "TransactWriteItems"
        keys = (
            [_item_key(handler, next(iter(op.values()))) for op in body["TransactItems"]]
            if transactional
            else [_item_key(handler, body)]
        )
        holders = self._transactions if transactional else self._writes
        with self._tables:
            with self._registry:
                if transactional:
                    busy = [self._transactions[key] + self._writes[key] > 0 for key in keys]
                else:
                    busy = [self._transactions[key] > 0 for key in keys]
                if not any(busy):
                    holders.update(keys)
            if any(busy):
                # call_action turns an exception raised by the action method into DynamoDB's error answer.
                setattr(handler, camelcase_to_underscores(action), self._refusal(keys, busy, transactional))
                return original(handler)
            try:
                answer = original(handler)
            except BaseException:
                self._release(holders, keys)
                raise
        # The write keeps its items for the rest of its commit, which the lock above does not model.
        time.sleep(self.commit_seconds)
        self._release(holders, keys)
        return answer

    def _release(self, holders: Counter[ItemKey], keys: list[ItemKey]) -> None:
        with self._registry:
            holders.subtract(keys)

    def _refusal(self, keys: list[ItemKey], busy: list[bool], transactional: bool) -> Callable[[], Any]:
        with self._registry:
            if transactional:
                self.cancelled_transactions += 1
            else:
                self.refused_writes += 1

        def refuse() -> Any:
            if transactional:
                raise TransactionCanceledException(
                    [("TransactionConflict", "Transaction is ongoing for the item", None) if b else (None, None, None)
                     for b in busy]
                )  # fmt: skip
            raise TransactionConflictException(f"Transaction is ongoing for the item {keys[0][1]}")

        return refuse


def _item_key(handler: Any, operation: dict[str, Any]) -> ItemKey:
    """(table, key) of one write: its Key, or for a Put the key attributes of its Item."""
    table_name = operation["TableName"]
    key = operation.get("Key")
    if key is None:
        table = handler.dynamodb_backend.get_table(table_name)
        names = [table.hash_key_attr, *([table.range_key_attr] if table.range_key_attr else [])]
        key = {name: operation["Item"][name] for name in names}
    return table_name, json.dumps(key, sort_keys=True)


class TouchedItemsSnapshot:
    """Stands in for the `copy` module inside moto's DynamoDB backend.

    Before a transaction, moto deep-copies every table it touches, to restore on cancellation: a cost
    that grows with the table, paid by every transaction (most of a 200-order race's run time went
    there). A cancelled transaction can only have changed the items it names, so a snapshot of
    those items, with the table's other items shared, restores exactly the same state. Any other use
    of `copy` is the real module.
    """

    def __init__(self) -> None:
        self._touched: dict[str, set[Any]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if not isinstance(value, Table) or value.has_range_key or value.name not in self._touched:
            return copy.deepcopy(value, memo)
        snapshot = copy.copy(value)
        snapshot.items = copy.copy(value.items)
        for key in self._touched[value.name]:
            if key in value.items:
                snapshot.items[key] = copy.deepcopy(value.items[key])
        return snapshot

    def transact_write_items(self, original: Callable[..., Any]) -> Callable[..., Any]:
        """Wraps DynamoDBBackend.transact_write_items to name the items before moto snapshots them."""
        snapshots = self

        def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> Any:
            touched: dict[str, set[Any]] = {}
            for item in transact_items:
                operation = next(iter(item.values()))
                table = backend.tables.get(operation.get("TableName"))
                if table is None:
                    continue
                key = operation.get("Key") or operation.get("Item", {})
                if table.hash_key_attr in key:
                    touched.setdefault(table.name, set()).add(DynamoType(key[table.hash_key_attr]))
            snapshots._touched = touched
            try:
                return original(backend, transact_items)
            finally:
                snapshots._touched = {}

        return transact_write_items
