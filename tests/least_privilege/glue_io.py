"""Record what a Glue entry script reads and writes in the object store while it runs locally.

The scripts touch S3 only through glue.etl's readers and writers: while `recording(...)` is active
those are wrapped, and each access is noted (recorder.py) as the bucket's job argument and the key
below it, so the least-privilege Glue check (service_roles.py) evaluates the job role against what
the script really did, in the deployed buckets the job's arguments name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

from glue.etl import feeds, output, runs
from glue.etl.output import table_uri
from tests.least_privilege.recorder import note_glue_access


def _key_in(roots: Mapping[str, str], uri: str) -> tuple[str, str]:
    path = uri.removeprefix("file://")
    for argument, root in roots.items():
        root = root.removeprefix("file://").rstrip("/")
        if path == root or path.startswith(root + "/"):
            return argument, path[len(root) :].lstrip("/")
    raise AssertionError(f"{uri} is in no bucket the job's arguments name ({dict(roots)})")


def _folder(uri: str) -> str:
    return uri.rstrip("/") + "/"


@contextmanager
def recording(script: str, roots: Mapping[str, str]) -> Iterator[None]:
    """Note every object-store access of `script` (e.g. `customer_transform.py`); `roots` maps each
    bucket argument (`--raw-bucket`) to the local directory standing in for the bucket."""

    def note(operation: str, uri: str) -> None:
        argument, key = _key_in(roots, uri)
        note_glue_access(script, operation, argument, key)

    def wrap(original: Callable[..., Any], describe: Callable[..., tuple[str, str]]) -> Callable[..., Any]:
        @functools.wraps(original)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            note(*describe(*args, **kwargs))
            return original(*args, **kwargs)

        return wrapped

    patches = {
        (feeds, "read_feed"): lambda _ctx, bucket, entity, **_: ("read", f"{bucket}/{entity.prefix}"),
        (output, "read_table"): lambda _spark, base, table: ("read", _folder(table_uri(base, table))),
        (output, "write_table"): lambda _frame, base, table: ("overwrite", _folder(table_uri(base, table))),
        (output, "delete_partitions"): lambda _spark, base, table, _p: ("delete", _folder(table_uri(base, table))),
        (output, "write_object"): lambda _spark, uri, _text: ("put", uri),
    }
    with ExitStack() as stack:
        for (module, name), describe in patches.items():
            stack.enter_context(mock.patch.object(module, name, wrap(getattr(module, name), describe)))
        # runs.write_run_summary calls output.write_object through its own import.
        stack.enter_context(mock.patch.object(runs, "write_object", output.write_object))
        yield
