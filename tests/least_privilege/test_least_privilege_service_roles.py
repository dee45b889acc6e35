"""(2) Roles that AWS services and cluster add-ons assume, against what those services call."""

from __future__ import annotations

import pytest

from tests.least_privilege.conftest import SHIPPED_STACKS
from tests.least_privilege.service_roles import ALL_SERVICE_CHECKS

# Requests the components do not grant today (issue 19), left to the component owners: (action, what
# needs it) -> why AWS needs it. A fix makes the second test fail until the entry goes.
KNOWN_MISSING = {
    (
        "kms:GenerateDataKey",
        "execution logs",
    ): "Step Functions writing to a CMK-encrypted log group makes a data key with the role",
    (
        "kms:Encrypt",
        "encrypted job bookmark",
    ): "CSE-KMS job bookmarks are encrypted with the job role: Encrypt, not only GenerateDataKey",
}


@pytest.mark.parametrize("check", ALL_SERVICE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_least_privilege_service_roles_allow_what_the_service_calls(stack, check, permission_models) -> None:
    verdicts = check(permission_models[stack])
    assert verdicts, f"{check.__name__}: no role of this kind in {stack}"
    failures = [line for v in verdicts for line in v.failures(KNOWN_MISSING)]
    assert not failures, "requests the role does not allow:\n" + "\n".join(failures)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_least_privilege_known_service_role_defects_are_still_there(stack, permission_models) -> None:
    found = set().union(
        *(v.known_found(KNOWN_MISSING) for c in ALL_SERVICE_CHECKS for v in c(permission_models[stack]))
    )
    fixed = sorted(set(KNOWN_MISSING) - found)
    assert not fixed, f"now granted: remove {fixed} from KNOWN_MISSING"
