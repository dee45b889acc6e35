"""(2) Roles that AWS services and cluster add-ons assume, against what those services call."""

from __future__ import annotations

import pytest

from tests.least_privilege.conftest import SHIPPED_STACKS
from tests.least_privilege.service_roles import ALL_SERVICE_CHECKS

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
