"""(1) Calls against grants, per Lambda function and shipped stack.

Every AWS call a handler makes while its tests run (recorded through botocore), plus what the Lambda
service does with the function's role (logs, X-Ray, environment key, event source polling, failure
destinations), becomes IAM requests on the stack's own resources (the KMS key behind each encrypted
one included) and is evaluated against the role policy the plan records for that function.
"""

from __future__ import annotations

import json
import warnings

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from offline.iam_eval import Decision, evaluate
from offline.runner import ROOT
from tests.least_privilege.conftest import SHIPPED_STACKS
from tests.least_privilege.grants import RecordedCall, Verdict, deployed_settings, function_verdicts
from tests.least_privilege.plan_model import PermissionModel

# One xdist worker runs them all: they share the session plans of every stack and one recording.
pytestmark = pytest.mark.xdist_group(name="least_privilege")


def _verdicts(models: dict[str, PermissionModel], calls: list[RecordedCall], stack: str) -> dict[str, Verdict]:
    return function_verdicts(models[stack], calls, deployed_settings(models.values()))


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_least_privilege_every_function_call_is_granted(stack, permission_models, recorded_calls) -> None:
    verdicts = _verdicts(permission_models, recorded_calls, stack)
    failures = [line for v in verdicts.values() for line in v.failures()]
    assert not failures, "calls the role does not allow:\n" + "\n".join(failures)


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_least_privilege_every_function_is_exercised(stack, permission_models, recorded_calls) -> None:
    """A handler whose tests record no AWS call would pass vacuously: each one must be covered."""
    silent = sorted(
        f.logical for f in permission_models[stack].functions if not any(c.handler == f.handler for c in recorded_calls)
    )
    assert not silent, f"no AWS call recorded for {silent}: run their handlers in tests (tests/<component>/)"


UNUSED_GRANTS_REPORT = ROOT / ".reports" / "least-privilege-unused-grants.txt"


class UnusedGrants(UserWarning):
    """Grants of function roles that no recorded call used (reported, not failed)."""


def test_least_privilege_unused_grants_are_reported(permission_models, recorded_calls) -> None:
    """Grants no recorded call uses are listed (not failed): over-grants stay visible, as a warning in the
    test summary (xdist workers' output is not shown) pointing at the full list."""
    lines = []
    for stack in SHIPPED_STACKS:
        verdicts = _verdicts(permission_models, recorded_calls, stack).values()
        assert sum(len(v.checked) for v in verdicts) > 0
        lines += [f"{stack}: {line}" for v in verdicts for line in v.unused]
    UNUSED_GRANTS_REPORT.parent.mkdir(exist_ok=True)
    UNUSED_GRANTS_REPORT.write_text("".join(f"{line}\n" for line in sorted(lines)))
    where = UNUSED_GRANTS_REPORT.relative_to(ROOT)
    warnings.warn(UnusedGrants(f"{len(lines)} function-role grants no recorded call uses: see {where}"), stacklevel=1)
    assert UNUSED_GRANTS_REPORT.read_text().count("\n") == len(lines)


def test_least_privilege_evaluator_agrees_with_moto_without_conditions(permission_models, recorded_calls) -> None:
    """offline/iam_eval.py and moto's IAMPolicy decide alike on every checked request, for the
    statements without conditions (moto only knows StringEquals)."""
    compared = 0
    for stack in SHIPPED_STACKS:
        for verdict in _verdicts(permission_models, recorded_calls, stack).values():
            plain = [
                {**d, "Statement": [s for s in d.get("Statement", []) if "Condition" not in s]}
                for d in verdict.role.policies
            ]
            for need in verdict.checked:
                ours = evaluate(plain, need.request) is Decision.ALLOWED
                theirs = any(
                    IAMPolicy(json.dumps(d)).is_action_permitted(need.request.action, need.request.resource)
                    == PermissionResult.PERMITTED
                    for d in plain
                )
                assert ours == theirs, (stack, verdict.subject, need)
                compared += 1
    assert compared > 100
