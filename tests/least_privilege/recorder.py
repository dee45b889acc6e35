"""pytest plugin: record every AWS call a Lambda handler makes while the handler tests run.

Loaded with `-p tests.least_privilege.recorder` by `recorded_calls()` (see calls_run.py) in a child
pytest over the handler test files. It hooks botocore, not the handlers' code: every client any code
creates (boto3 default session, handlers.common, moto) gets a `before-parameter-build` handler, so
it keeps working when the handlers change how they make clients.

A call is attributed to the handler entry point (module.function, as in the plan's `handler`) running
in its thread: the entry point is wrapped to mark its thread, and work it submits to a thread pool
(the enrich writer pool) carries the mark. Calls from anything else (the test itself, moto's Step
Functions interpreter invoking Lambda) are not a function's and are left out.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import decimal
import functools
import importlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import botocore.client

OUTPUT_ENV = "LEAST_PRIVILEGE_RECORD"
HANDLERS_ENV = "LEAST_PRIVILEGE_HANDLERS"
# Never written to the record: credentials (fake in tests, but still credentials).
_SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")

_local = threading.local()
_lock = threading.Lock()
_calls: list[dict[str, Any]] = []
_environments: dict[str, int] = {}


def _current_handler() -> str | None:
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


def _submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Work a handler hands to a thread pool runs on behalf of that handler."""
    stack = list(getattr(_local, "stack", None) or [])
    if not stack:
        return _original_submit(self, fn, *args, **kwargs)

    def on_behalf(*a: Any, **kw: Any) -> Any:
        saved = getattr(_local, "stack", None)
        _local.stack = stack
        try:
            return fn(*a, **kw)
        finally:
            _local.stack = saved

    return _original_submit(self, on_behalf, *args, **kwargs)


_original_submit = concurrent.futures.ThreadPoolExecutor.submit


def _environment_id() -> int:
    snapshot = json.dumps({k: v for k, v in sorted(os.environ.items()) if k not in _SECRET_ENV})
    with _lock:
        return _environments.setdefault(snapshot, len(_environments))


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return {"__bytes__": base64.b64encode(bytes(value)[:64]).decode()}
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _on_call(region: str, service: str, params: dict[str, Any], model: Any, **_: Any) -> None:
    handler = _current_handler()
    if handler is None:
        return
    record = {
        "handler": handler,
        "service": service,
        "operation": model.name,
        "region": region,
        "params": _json_safe(params),
        "environment": _environment_id(),
    }
    with _lock:
        _calls.append(record)


_original_create_client = botocore.client.ClientCreator.create_client


def _create_client(self: Any, *args: Any, **kwargs: Any) -> Any:
    client = _original_create_client(self, *args, **kwargs)
    client.meta.events.register(
        "before-parameter-build",
        functools.partial(_on_call, client.meta.region_name, client.meta.service_model.service_name),
    )
    return client


_last_entry_point: list[str] = []


def _cold_start(path: str) -> None:
    """Each function runs in its own containers: when the entry point changes, forget what the last
    one cached (clients, parameters), so each function's own calls are recorded, not skipped because
    another handler warmed a shared cache in this one test process."""
    if _last_entry_point == [path]:
        return
    _last_entry_point[:] = [path]
    package = path.split(".", 1)[0] + "."
    for name, module in list(sys.modules.items()):
        if not name.startswith(package) or module is None:
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", "") == name:
                value.cache_clear()
        clear = vars(module).get("clear_cache")
        if callable(clear) and getattr(clear, "__module__", "") == name:
            clear()


def _wrap_entry_point(path: str) -> None:
    module_name, _, attribute = path.rpartition(".")
    module = importlib.import_module(module_name)
    original = getattr(module, attribute)

    @functools.wraps(original)
    def entry_point(*args: Any, **kwargs: Any) -> Any:
        stack = getattr(_local, "stack", None) or []
        with _lock:
            _cold_start(path)
        _local.stack = [*stack, path]
        try:
            return original(*args, **kwargs)
        finally:
            _local.stack = stack

    setattr(module, attribute, entry_point)


def pytest_configure(config: Any) -> None:
    if not os.environ.get(OUTPUT_ENV):
        return
    botocore.client.ClientCreator.create_client = _create_client
    concurrent.futures.ThreadPoolExecutor.submit = _submit
    for path in filter(None, os.environ.get(HANDLERS_ENV, "").split(",")):
        _wrap_entry_point(path)


def pytest_unconfigure(config: Any) -> None:
    output = os.environ.get(OUTPUT_ENV)
    if not output:
        return
    environments = {index: json.loads(snapshot) for snapshot, index in _environments.items()}
    Path(output).write_text(json.dumps({"calls": _calls, "environments": environments}))
