"""Suite-wide fixtures: the real program evaluated per stack under the recording mocks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline.runner import PlanGraph, merge_config, read_stack_config, run_program

STACKS_DIR = Path(__file__).parent / "stacks"

PlanFactory = Callable[..., PlanGraph]


def stack_config(stack: str) -> dict[str, Any]:
    """Config of a shipped stack (`Pulumi.<stack>.yaml`) or of a test-only stack in tests/stacks/."""
    test_only = STACKS_DIR / f"Pulumi.{stack}.yaml"
    if test_only.exists():
        return dict(yaml.safe_load(test_only.read_text())["config"])
    return read_stack_config(stack)


@pytest.fixture(scope="session")
def dev_plan() -> PlanGraph:
    return run_program("dev")


@pytest.fixture(scope="session")
def prod_plan() -> PlanGraph:
    return run_program("prod")


@pytest.fixture(scope="session")
def staging_plan() -> PlanGraph:
    return run_program("staging", stack_config("staging"))


@pytest.fixture
def plan_with() -> PlanFactory:
    """Build a stack with config overrides: `plan_with("dev", {"platform:featureStore": {...}})`."""

    def build(stack: str = "dev", overrides: Mapping[str, Any] | None = None) -> PlanGraph:
        return run_program(stack, merge_config(stack_config(stack), overrides or {}))

    return build
