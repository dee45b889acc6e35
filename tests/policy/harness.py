"""Evaluate a small program (building blocks or raw resources) under the suite's recording mocks.

`offline.runner.run_program` runs the whole `__main__.py`; policy tests also need programs that declare
only the resources a case is about, with the same mocks, config parsing and StackContext as the stacks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from components.config import load_stack_config
from components.context import StackContext
from offline.runner import PlanGraph, run_program

Program = Callable[[StackContext], Any]


def run_resources(stack: str, config: Mapping[str, Any], program: Program) -> PlanGraph:
    """Run `program(ctx)` for `stack` with `config` (a stack file's `config:` mapping) and record it."""
    return run_program(stack, config, program=lambda: program(StackContext.create(load_stack_config())))
