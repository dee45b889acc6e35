"""(2) Roles that AWS services and cluster add-ons assume, against what those services call."""

from __future__ import annotations

import pytest

from tests.least_privilege.conftest import SHIPPED_STACKS
from tests.least_privilege.service_roles import ALL_SERVICE_CHECKS, glue_verdicts, script_of

# One xdist worker runs them all: they share the session plans of every stack and one recording.
pytestmark = pytest.mark.xdist_group(name="least_privilege")


@pytest.mark.parametrize("check", ALL_SERVICE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_least_privilege_service_roles_allow_what_the_service_calls(stack, check, permission_models) -> None:
    verdicts = check(permission_models[stack])
    failures = [line for v in verdicts for line in v.failures()]
    assert not failures, "requests the role does not allow:\n" + "\n".join(failures)


@pytest.mark.parametrize("check", ALL_SERVICE_CHECKS, ids=lambda c: c.__name__)
def test_least_privilege_every_service_check_finds_its_roles(check, permission_models) -> None:
    assert any(check(permission_models[stack]) for stack in SHIPPED_STACKS), f"{check.__name__} found no role"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_least_privilege_glue_roles_allow_what_the_entry_scripts_did(
    stack, permission_models, recorded_glue_io
) -> None:
    """Glue job roles against the object-store accesses of their entry scripts' local runs
    (tests/data_lake/test_entry_scripts.py), in the buckets the deployed jobs' arguments name."""
    model = permission_models[stack]
    jobs = model.resources("aws:glue/job:Job")
    unrun = sorted({script_of(j) for j in jobs} - {a.script for a in recorded_glue_io})
    assert not unrun, f"no local run recorded for the entry scripts {unrun}"
    verdicts = glue_verdicts(model, recorded_glue_io)
    assert verdicts
    failures = [line for v in verdicts for line in v.failures()]
    assert not failures, "requests the role does not allow:\n" + "\n".join(failures)
