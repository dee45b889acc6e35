"""pytest plugin: record every AWS call a Lambda handler makes while the handler tests run.

Registered for every run by tests/conftest.py, so the suite's
own handler tests are what the per-function least-privilege checks read: nothing runs twice. It hooks
botocore, not the handlers' code: every client any code creates (boto3 default session,
handlers.common, moto) gets a `before-parameter-build` handler, so it keeps working when the handlers
change how they make clients.

A call is attributed to the handler entry point (`handlers.<module>.handler`, as in the plan) running
in its thread: every entry point is wrapped to mark its thread, and work it submits to a thread pool
(the enrich writer pool) carries the mark. Calls from anything else (the test itself, moto's Step
Functions interpreter invoking Lambda) are not a function's and are left out.

Each test process appends what it recorded, test by test, to its own JSON-lines file in one directory
per run (`LEAST_PRIVILEGE_RECORD_DIR`, made by the first process and inherited by xdist's workers),
followed by a `done` line naming the finished test: `read_record()` merges the files and says which
tests have finished, so a reader can wait for the handler tests it needs (see grants.py).
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
import pkgutil
import shutil
import sys
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.client

RECORD_DIR_ENV = "LEAST_PRIVILEGE_RECORD_DIR"
# Never written to the record: credentials (fake in tests, but still credentials).
_SECRET_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")

_local = threading.local()
_lock = threading.Lock()
_calls: list[dict[str, Any]] = []  # recorded since the last flush
_glue_io: list[dict[str, Any]] = []  # object-store accesses of Glue entry scripts, since the last flush
_environments: dict[str, int] = {}  # snapshot -> id, for this process
_unwritten_environments: dict[int, str] = {}  # id -> snapshot, not yet in the record file
_run: dict[str, Path] = {}  # "file": this process's record; "owned": the run directory it made


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
        if snapshot not in _environments:
            _environments[snapshot] = len(_environments)
            _unwritten_environments[_environments[snapshot]] = snapshot
        return _environments[snapshot]


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


def entry_points() -> list[str]:
    """Every Lambda entry point the program can deploy: `handler` of each module under `handlers`."""
    import handlers

    found = []
    for info in pkgutil.walk_packages(handlers.__path__, "handlers."):
        module = importlib.import_module(info.name)
        handler = getattr(module, "handler", None)
        if callable(handler) and getattr(handler, "__module__", None) == info.name:
            found.append(f"{info.name}.handler")
    return found


def pytest_configure(config: Any) -> None:
    if hasattr(config, "workerinput"):
        name = str(config.workerinput["workerid"])
    else:
        name = "main"
        if not os.environ.get(RECORD_DIR_ENV):
            _run["owned"] = Path(tempfile.mkdtemp(prefix="least-privilege-calls-"))
            os.environ[RECORD_DIR_ENV] = str(_run["owned"])  # xdist's workers inherit it
    _run["file"] = Path(os.environ[RECORD_DIR_ENV]) / f"{name}-{os.getpid()}.jsonl"
    botocore.client.ClientCreator.create_client = _create_client
    concurrent.futures.ThreadPoolExecutor.submit = _submit
    for path in entry_points():
        _wrap_entry_point(path)


def pytest_runtest_logfinish(nodeid: str, location: Any) -> None:
    """Append the calls of the test that just finished, then say it finished."""
    with _lock:
        # Environments first: every call line names one the reader has already seen.
        lines: list[dict[str, Any]] = [
            {"environment": index, "value": json.loads(snapshot)} for index, snapshot in _unwritten_environments.items()
        ]
        _unwritten_environments.clear()
        lines += [{"call": call} for call in _calls]
        _calls.clear()
        lines += [{"glue": access} for access in _glue_io]
        _glue_io.clear()
        lines.append({"done": nodeid})
        with _run["file"].open("a") as record:
            record.write("".join(json.dumps(line) + "\n" for line in lines))


def pytest_unconfigure(config: Any) -> None:
    owned = _run.pop("owned", None)
    if owned is not None:
        os.environ.pop(RECORD_DIR_ENV, None)
        shutil.rmtree(owned, ignore_errors=True)


@dataclass(frozen=True)
class RecordedCall:
    handler: str
    service: str
    operation: str
    region: str
    params: Mapping[str, Any]
    environment: Mapping[str, str]

    def describe(self) -> str:
        return f"{self.service}.{self.operation}"


def note_glue_access(script: str, operation: str, argument: str, key: str) -> None:
    """A Glue entry script's object-store access in a local run (tests/least_privilege/glue_io.py)."""
    with _lock:
        _glue_io.append({"script": script, "operation": operation, "argument": argument, "key": key})


@dataclass(frozen=True)
class GlueAccess:
    """One object-store access of a Glue entry script: `operation` (read, overwrite, delete, put) on `key`
    (a prefix, or the object of a put) in the bucket the job argument `argument` names."""

    script: str
    operation: str
    argument: str
    key: str


@dataclass
class Record:
    calls: list[RecordedCall]
    glue: list[GlueAccess]
    done: set[str]


def read_record(directory: Path) -> Record:
    """Everything recorded in a run so far, and the node ids of the tests that have finished."""
    calls: list[RecordedCall] = []
    glue: list[GlueAccess] = []
    done: set[str] = set()
    for path in sorted(directory.glob("*.jsonl")):
        environments: dict[int, dict[str, str]] = {}
        text = path.read_text()
        for line in text[: text.rfind("\n") + 1].splitlines():  # a line being written is read next time
            entry = json.loads(line)
            if "done" in entry:
                done.add(entry["done"])
            elif "value" in entry:
                environments[entry["environment"]] = entry["value"]
            elif "glue" in entry:
                glue.append(GlueAccess(**entry["glue"]))
            else:
                c = entry["call"]
                calls.append(
                    RecordedCall(
                        c["handler"],
                        c["service"],
                        c["operation"],
                        c["region"],
                        c["params"],
                        environments[c["environment"]],
                    )
                )
    return Record(calls, sorted(set(glue), key=lambda a: (a.script, a.operation, a.argument, a.key)), done)
