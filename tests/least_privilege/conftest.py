"""Fixtures of the least-privilege checks: the permission model of every shipped stack, the AWS calls
the handlers make and the object-store accesses of the Glue entry scripts while their tests run."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.runner import ROOT, PlanGraph, run_program
from tests.conftest import DESELECTED
from tests.least_privilege.grants import record_in_a_child_run, record_of_this_run, recorded_test_files
from tests.least_privilege.plan_model import PermissionModel, permission_model
from tests.least_privilege.recorder import GlueAccess, Record, RecordedCall

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
def recording(request: pytest.FixtureRequest) -> Record:
    """What the handlers called and the Glue entry scripts read and wrote in this run's tests; when the
    run did not select all of those tests (`pytest -k least_privilege`), in a child run of all of them."""
    files = set(recorded_test_files())
    selected = [item.nodeid for item in request.session.items if item.path in files]
    deselected = [item for item in request.config.stash.get(DESELECTED, []) if item.path in files]
    if {item.path for item in request.session.items} >= files and not deselected:
        return record_of_this_run(selected)
    return record_in_a_child_run()


@pytest.fixture(scope="session")
def recorded_calls(recording: Record) -> list[RecordedCall]:
    return recording.calls


@pytest.fixture(scope="session")
def recorded_glue_io(recording: Record) -> list[GlueAccess]:
    return recording.glue
