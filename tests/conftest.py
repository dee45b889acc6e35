"""Suite-wide fixtures: the real program evaluated per stack under the recording mocks."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto import mock_aws

from offline.runner import PlanGraph, merge_config, read_stack_config, run_program

STACKS_DIR = Path(__file__).parent / "stacks"

PlanFactory = Callable[..., PlanGraph]

# Credentials moto accepts and no real account does, so a test can never reach AWS.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
    "AWS_SESSION_TOKEN": "testing",
}


@contextmanager
def moto_account(monkeypatch: pytest.MonkeyPatch, region: str) -> Iterator[None]:
    """An in-process moto account with fake credentials and `region` as the default region."""
    for key, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


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
