"""The bootstrap project (bootstrap/) evaluated under the platform's recording mocks (offline/)."""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import yaml

from offline.runner import ROOT, PlanGraph, merge_config, run_program

BOOTSTRAP = ROOT / "bootstrap"
PROJECT = yaml.safe_load((BOOTSTRAP / "Pulumi.yaml").read_text())["name"]
STACK = "shared"

BootstrapPlan = Callable[..., PlanGraph]


def bootstrap_config(stack: str = STACK) -> dict[str, Any]:
    return dict(yaml.safe_load((BOOTSTRAP / f"Pulumi.{stack}.yaml").read_text())["config"])


def run_bootstrap(overrides: Mapping[str, Any] | None = None, stack: str = STACK) -> PlanGraph:
    """Run bootstrap/__main__.py, as `pulumi up` in bootstrap/ would, with the stack file's config."""
    config = merge_config(bootstrap_config(stack), overrides or {})
    main = str(BOOTSTRAP / "__main__.py")
    return run_program(stack, config, project=PROJECT, program=lambda: runpy.run_path(main, run_name="__main__"))


@pytest.fixture(scope="session")
def bootstrap_plan() -> PlanGraph:
    return run_bootstrap()


@pytest.fixture
def bootstrap_with() -> BootstrapPlan:
    return run_bootstrap


def role_policies(plan: PlanGraph, name: str) -> list[dict]:
    """The managed policies attached to one bootstrap role, in order, each with its document."""
    created = plan.one("aws:iam/role:Role", f"{name}-role")
    attached = [
        a.inputs["policyArn"]
        for a in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == created.outputs["name"]
    ]
    policies = {p.outputs["arn"]: p for p in plan.of_type("aws:iam/policy:Policy")}
    return [json.loads(policies[arn].inputs["policy"]) for arn in attached]


def role(plan: PlanGraph, name: str) -> tuple[dict, dict]:
    """(trust policy, every permission statement of its attached policies) of one bootstrap role."""
    created = plan.one("aws:iam/role:Role", f"{name}-role")
    statements = [s for policy in role_policies(plan, name) for s in policy["Statement"]]
    return json.loads(created.inputs["assumeRolePolicy"]), {"Version": "2012-10-17", "Statement": statements}
