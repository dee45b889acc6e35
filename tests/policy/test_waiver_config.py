"""The `platform:policy` section is validated with the rest of the stack configuration."""

from __future__ import annotations

import re

import pulumi
import pytest

from tests.conftest import PlanFactory

REASON = "Operators reach the API from the office until the VPN lands (PLAT-123)."


@pytest.mark.parametrize(
    ("waiver", "expected"),
    [
        ({"policy": "kms-key-rotation", "resources": ["*"], "reason": REASON}, "no wildcards"),
        ({"policy": "kms-key-rotation", "resources": [], "reason": REASON}, "platform:policy.waivers[0].resources"),
        ({"policy": "kms-key-rotation", "resources": ["k"], "reason": "because"}, "platform:policy.waivers[0].reason"),
        ({"policy": "KMS rotation", "resources": ["k"], "reason": REASON}, "platform:policy.waivers[0].policy"),
        ({"policy": "kms-key-rotation", "resources": ["k"]}, "platform:policy.waivers[0].reason: required"),
    ],
)
def test_a_bad_waiver_stops_the_program(plan_with: PlanFactory, waiver: dict, expected: str) -> None:
    with pytest.raises(pulumi.RunError, match=re.escape(expected)):
        plan_with("dev", {"platform:policy": {"waivers": [waiver]}})


def test_the_same_resource_cannot_be_waived_twice(plan_with: PlanFactory) -> None:
    waiver = {"policy": "kms-key-rotation", "resources": ["k"], "reason": REASON}
    with pytest.raises(pulumi.RunError, match=r"waivers\[0\] and waivers\[1\] both waive policy 'kms-key-rotation'"):
        plan_with("dev", {"platform:policy": {"waivers": [waiver, waiver]}})
