"""Fixtures of the least-privilege checks: the permission model of every shipped stack, and the AWS
calls the handlers make while their tests run (recorded once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.runner import ROOT, PlanGraph, run_program
from tests.least_privilege.grants import calls_of_this_run, handler_test_files, record_handler_calls
from tests.least_privilege.plan_model import PermissionModel, permission_model
from tests.least_privilege.recorder import RecordedCall

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
def recorded_calls(request: pytest.FixtureRequest) -> list[RecordedCall]:
    """What the handlers called in this run's handler tests; when the run selected none of them
    (`pytest -k least_privilege`), what they call in a child run of all of them."""
    files = set(handler_test_files())
    selected = [item.nodeid for item in request.session.items if item.path in files]
    return calls_of_this_run(selected) if selected else record_handler_calls()
