"""Fixtures of the least-privilege checks: the permission model of every shipped stack, and the AWS
calls the handlers make while their tests run (recorded once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.runner import ROOT, PlanGraph, run_program
from tests.least_privilege.grants import RecordedCall, record_handler_calls
from tests.least_privilege.plan_model import PermissionModel, permission_model

# Every stack the repository ships (`Pulumi.<stack>.yaml` at the root): a new one is checked too.
SHIPPED_STACKS = sorted(p.name.split(".")[1] for p in Path(ROOT).glob("Pulumi.*.yaml"))


def _plan(request: pytest.FixtureRequest, stack: str) -> PlanGraph:
    # Reuse the suite's session plans (tests/conftest.py) where one exists for the stack.
    try:
        return request.getfixturevalue(f"{stack}_plan")
    except pytest.FixtureLookupError:
        return run_program(stack)


@pytest.fixture(scope="session")
def permission_models(request: pytest.FixtureRequest) -> dict[str, PermissionModel]:
    return {stack: permission_model(_plan(request, stack)) for stack in SHIPPED_STACKS}


@pytest.fixture(scope="session")
def recorded_calls(permission_models: dict[str, PermissionModel]) -> list[RecordedCall]:
    handlers = {f.handler for model in permission_models.values() for f in model.functions}
    return record_handler_calls(handlers)
