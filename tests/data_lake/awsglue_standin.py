"""A minimal stand-in for the part of the `awsglue` library the entry scripts in glue/jobs/ use.

Test-only (never shipped): `install(monkeypatch, store)` puts modules named `awsglue.context`,
`awsglue.job`, `awsglue.utils` and `awsglue.dynamicframe` into `sys.modules`, so an entry script
imports them as it does in Glue and runs on the suite's local Spark session. What it models:

* `getResolvedOptions(argv, names)`: each name is a required `--name value` argument, returned under
  the name with `-` turned into `_`; other arguments (the ones Glue itself reads, such as
  `--job-bookmark-option`) are ignored; a missing one raises `GlueArgumentError` naming it.
* `GlueContext.create_dynamic_frame.from_options` for S3 CSV with `paths`/`recurse` and the
  `attachFilename`/`attachTimestamp` options (the object's path; its modification time in epoch
  milliseconds). `s3://` paths are not reachable here: the tests point the scripts at `file://`.
* Job bookmarks: a source with a `transformation_ctx` returns only objects that no committed run
  of the job has read; `Job.commit()` records what the run read. A run that fails before commit
  leaves the bookmark where it was, so its retry reads the same objects again.
* `DynamicFrame.toDF`, `DynamicFrame.fromDF`, `resolveChoice` (CSV cells are strings already).
"""

from __future__ import annotations

import argparse
import json
import sys
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 - the PySpark convention
from pyspark.sql.types import StructType


class GlueArgumentError(Exception):
    """What awsglue raises for a missing job argument."""


@dataclass
class BookmarkStore:
    """Committed bookmarks per job and transformation_ctx (the objects each has read), on disk."""

    path: Path
    commits: list[str] = field(default_factory=list)

    def read(self) -> dict[str, dict[str, list[str]]]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def seen(self, job: str, context: str) -> set[str]:
        return set(self.read().get(job, {}).get(context, []))

    def commit(self, job: str, reads: dict[str, set[str]]) -> None:
        state = self.read()
        for context, objects in reads.items():
            state.setdefault(job, {}).setdefault(context, [])
            state[job][context] = sorted(set(state[job][context]) | objects)
        self.path.write_text(json.dumps(state))
        self.commits.append(job)


class GlueLogger:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def info(self, message: str) -> None:
        self.messages.append(message)

    warn = error = info


class DynamicFrame:
    def __init__(self, frame: DataFrame, glue_ctx: GlueContext, name: str) -> None:
        self._frame = frame
        self.glue_ctx = glue_ctx
        self.name = name

    def toDF(self) -> DataFrame:
        return self._frame

    def resolveChoice(self, choice: str = "") -> DynamicFrame:
        assert choice == "cast:string", f"stand-in only models resolveChoice(choice='cast:string'), got {choice!r}"
        return self

    @classmethod
    def fromDF(cls, frame: DataFrame, glue_ctx: GlueContext, name: str) -> DynamicFrame:
        return cls(frame, glue_ctx, name)


def _local_objects(paths: Iterable[str], recurse: bool) -> list[str]:
    objects: list[str] = []
    for uri in paths:
        parsed = urlparse(uri)
        assert parsed.scheme == "file", f"the stand-in reads file:// paths only, got {uri}"
        root = Path(parsed.path)
        if root.is_dir():
            pattern = "**/*" if recurse else "*"
            objects.extend(p.as_uri() for p in sorted(root.glob(pattern)) if p.is_file())
    return objects


class _DynamicFrameReader:
    def __init__(self, context: GlueContext) -> None:
        self._context = context

    def from_options(
        self,
        connection_type: str,
        connection_options: dict[str, Any],
        format: str,
        format_options: dict[str, Any],
        transformation_ctx: str = "",
    ) -> DynamicFrame:
        assert (connection_type, format) == ("s3", "csv"), "stand-in only models S3 CSV sources"
        known = {"paths", "recurse", "attachFilename", "attachTimestamp"}
        assert set(connection_options) <= known, f"unmodelled options {set(connection_options) - known}"
        objects = _local_objects(connection_options["paths"], bool(connection_options.get("recurse")))
        job = self._context.job
        if transformation_ctx:
            assert job is not None, "a bookmarked source needs Job.init first"
            seen = self._context.store.seen(job.name, transformation_ctx)
            objects = [o for o in objects if o not in seen]
            job.reads.setdefault(transformation_ctx, set()).update(objects)
        spark = self._context.spark_session
        if not objects:
            return DynamicFrame(spark.createDataFrame([], StructType([])), self._context, transformation_ctx)
        frame = (
            spark.read.option("header", bool(format_options.get("withHeader")))
            .option("sep", format_options.get("separator", ","))
            .option("quote", format_options.get("quoteChar", '"'))
            .option("escape", format_options.get("quoteChar", '"'))
            .csv(objects)
        )
        extra = []
        if "attachFilename" in connection_options:
            extra.append(F.col("_metadata.file_path").alias(connection_options["attachFilename"]))
        if "attachTimestamp" in connection_options:
            modified = F.unix_millis(F.col("_metadata.file_modification_time"))
            extra.append(modified.alias(connection_options["attachTimestamp"]))
        return DynamicFrame(frame.select("*", *extra), self._context, transformation_ctx)


class GlueContext:
    store: BookmarkStore  # set by install()
    logger: GlueLogger

    def __init__(self, spark_context: Any) -> None:
        self.spark_session = SparkSession(spark_context)
        self.create_dynamic_frame = _DynamicFrameReader(self)
        self.job: Job | None = None

    def get_logger(self) -> GlueLogger:
        return self.logger


class Job:
    def __init__(self, glue_context: GlueContext) -> None:
        self._context = glue_context
        self.name = ""
        self.reads: dict[str, set[str]] = {}

    def init(self, name: str, args: dict[str, str]) -> None:
        assert name and args.get("JOB_NAME") == name
        self.name = name
        self._context.job = self

    def commit(self) -> None:
        self._context.store.commit(self.name, self.reads)


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise GlueArgumentError(message)


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, str]:
    parser = _ArgumentParser(add_help=False, allow_abbrev=False)
    for option in options:
        parser.add_argument(f"--{option}", required=True)
    resolved, _ = parser.parse_known_args(list(args[1:]))
    return vars(resolved)


def install(monkeypatch: pytest.MonkeyPatch, store: BookmarkStore) -> GlueLogger:
    """Make `import awsglue...` resolve to this stand-in for the rest of the test."""
    logger = GlueLogger()
    monkeypatch.setattr(GlueContext, "store", store, raising=False)
    monkeypatch.setattr(GlueContext, "logger", logger, raising=False)
    modules = {
        "awsglue": {},
        "awsglue.context": {"GlueContext": GlueContext},
        "awsglue.job": {"Job": Job},
        "awsglue.utils": {"getResolvedOptions": getResolvedOptions, "GlueArgumentError": GlueArgumentError},
        "awsglue.dynamicframe": {"DynamicFrame": DynamicFrame},
    }
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)
    return logger
