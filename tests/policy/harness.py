"""Evaluate a small program (building blocks or raw resources) under the suite's recording mocks.

`offline.runner.run_program` runs the whole `__main__.py`; policy tests also need programs that declare
only the resources a case is about, with the same mocks, config parsing and StackContext as the stacks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from components.config import load_stack_config
from components.context import StackContext
from offline.mocks import RecordingMocks, RecordingMonitor
from offline.runner import PROJECT, PlanGraph, flatten_config

Program = Callable[[StackContext], Any]


def run_resources(stack: str, config: Mapping[str, Any], program: Program) -> PlanGraph:
    """Run `program(ctx)` for `stack` with `config` (a stack file's `config:` mapping) and record it."""
    flat = flatten_config(config)
    mocks = RecordingMocks(default_region=flat.get("aws:region", "us-east-1"))
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    set_all_config(flat, [])
    pulumi_settings.ROOT.set(None)
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()

    def main() -> None:
        program(StackContext.create(load_stack_config()))

    _sync_await(run_in_stack(main))
    return PlanGraph(stack=stack, resources=monitor.records, outputs=monitor.stack_outputs)
