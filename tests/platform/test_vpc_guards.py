"""components/vpc_guards.py: every VPC logs its traffic and keeps its default security group closed."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from components.config import load_stack_config
from components.context import StackContext
from components.vpc_guards import guard_vpc
from offline.checkov_plan import evaluate_plan
from offline.mocks import ACCOUNT_ID
from offline.policy_run import evaluate
from offline.runner import PlanGraph, run_program
from tests.conftest import stack_config

KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/00000000-0000-0000-0000-000000000002"


def vpc_program(guarded: bool) -> None:
    ctx = StackContext.create(load_stack_config())
    opts = pulumi.ResourceOptions(provider=ctx.primary)
    vpc = aws.ec2.Vpc("db-vpc", cidr_block="10.8.0.0/16", opts=opts)
    if guarded:
        guard_vpc(
            "db-vpc",
            ctx,
            component="demo",
            purpose="db",
            vpc_id=vpc.id,
            kms_key_arn=KEY_ARN,
            retention_days=ctx.config.log_retention_days,
            opts=opts,
        )


@pytest.fixture(scope="module")
def guarded_plan() -> PlanGraph:
    return run_program("prod", stack_config("prod"), program=lambda: vpc_program(guarded=True))


@pytest.fixture(scope="module")
def bare_plan() -> PlanGraph:
    return run_program("prod", stack_config("prod"), program=lambda: vpc_program(guarded=False))


def test_the_default_security_group_of_the_vpc_is_taken_over_without_rules(guarded_plan: PlanGraph) -> None:
    vpc_id = guarded_plan.one("aws:ec2/vpc:Vpc", "db-vpc").id
    group = guarded_plan.one("aws:ec2/defaultSecurityGroup:DefaultSecurityGroup", "db-vpc-default-sg")
    assert group.inputs["vpcId"] == vpc_id
    assert group.inputs["ingress"] == [] and group.inputs["egress"] == []
    assert guarded_plan.one("aws:ec2/flowLog:FlowLog", "db-vpc-flow-logs").inputs["vpcId"] == vpc_id


VPC_CHECKS = {("CKV2_AWS_11", "db-vpc"), ("CKV2_AWS_12", "db-vpc")}  # flow logs; default group closed


@pytest.mark.parametrize(("plan_fixture", "failing"), [("guarded_plan", set()), ("bare_plan", VPC_CHECKS)])
def test_checkov_sees_flow_logs_and_a_closed_default_group_only_when_guarded(
    request: pytest.FixtureRequest, plan_fixture: str, failing: set[tuple[str, str]]
) -> None:
    plan: PlanGraph = request.getfixturevalue(plan_fixture)
    assert evaluate(plan).violations == []
    report = evaluate_plan(plan, skips=[])
    assert {(f.check, f.resource) for f in report.failed} & VPC_CHECKS == failing
