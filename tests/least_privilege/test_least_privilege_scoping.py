"""components/iam.py lets a hand-kept list of actions go unscoped (`"Resource": "*"`): each must really
take no resource in the Service Authorization Reference, or be justified here."""

from __future__ import annotations

import pytest

from components.iam import UNSCOPED_ACTIONS
from tests.least_privilege.actions import arn_formats, takes_resources

# One xdist worker runs them all: they share the session plans of every stack and one recording.
pytestmark = pytest.mark.xdist_group(name="least_privilege")


# Scopable in the reference, left at `*` on purpose: action -> why.
JUSTIFIED = {
    action: "network interfaces of VPC Lambdas/nodes are created by the service: their ids are unknown at deploy"
    for action in (
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    )
}


def test_least_privilege_unscoped_actions_take_no_resource() -> None:
    scopable = {a: arn_formats(a) for a in sorted(UNSCOPED_ACTIONS) if takes_resources(a)}
    unexplained = {a: f for a, f in scopable.items() if a not in JUSTIFIED}
    assert not unexplained, f"these take resource ARNs; scope them instead of '*': {unexplained}"
