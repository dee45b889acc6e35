"""Shared building blocks, evaluated under the recording mocks and checked on the inputs they send."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.config import load_stack_config
from components.context import StackContext
from components.iam import PolicyError, Statement
from components.kms import CustomerManagedKey, key_use_through
from components.lambda_function import FunctionSpec, PythonFunction, handler_archive
from components.naming import LIMITS, physical_name
from components.runtime_params import RuntimeParameters
from offline.mocks import ACCOUNT_ID
from offline.runner import PlanGraph, run_program
from tests.conftest import stack_config


def build(stack: str, body) -> PlanGraph:
    def program() -> None:
        ctx = StackContext.create(load_stack_config())
        body(ctx)

    return run_program(stack, stack_config(stack), program=program)


# --- naming -------------------------------------------------------------------------------------


def test_names_follow_project_stack_component_purpose() -> None:
    assert physical_name("platform", "prod", "datalake", "raw", service="s3") == "platform-prod-datalake-raw"


@pytest.mark.parametrize("service", sorted(LIMITS))
def test_long_names_are_cut_to_the_service_limit_with_a_stable_hash(service: str) -> None:
    purpose = "x" * 600
    name = physical_name("platform", "staging", "featurestore", purpose, service=service)
    assert len(name) <= LIMITS[service]
    assert name.startswith("platform-staging-featurestore-"[: LIMITS[service] - 9].rstrip("-"))
    assert name == physical_name("platform", "staging", "featurestore", purpose, service=service)
    assert name != physical_name("platform", "staging", "featurestore", purpose + "y", service=service)


def test_two_stacks_never_share_a_name() -> None:
    assert physical_name("platform", "dev", "orders", "bus") != physical_name("platform", "prod", "orders", "bus")


@pytest.mark.parametrize("bad", ["Upper", "under_score", "", "-lead"])
def test_name_segments_must_be_dns_safe(bad: str) -> None:
    with pytest.raises(ValueError, match="lowercase"):
        physical_name("platform", "dev", bad, "x")


# --- IAM ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["*", "s3:*", "dynamodb"])
def test_wildcard_actions_are_refused(action: str) -> None:
    with pytest.raises(PolicyError, match="wildcard"):
        Statement(actions=[action], resources=["arn:aws:s3:::b"]).check()


def test_star_resource_only_for_actions_that_cannot_be_scoped() -> None:
    Statement(actions=["xray:PutTraceSegments"]).check()
    with pytest.raises(PolicyError, match="need resource ARNs"):
        Statement(actions=["dynamodb:GetItem", "xray:PutTraceSegments"]).check()


def test_security_groups_for_a_vpc_are_listed_on_the_vpc_arn_not_star() -> None:
    """ec2:GetSecurityGroupsForVpc takes the VPC as its resource, so `*` is more than it needs."""
    with pytest.raises(PolicyError, match=r"\['ec2:GetSecurityGroupsForVpc'\] need resource ARNs"):
        Statement(actions=["ec2:DescribeVpcs", "ec2:GetSecurityGroupsForVpc"]).check()
    Statement(
        actions=["ec2:GetSecurityGroupsForVpc"], resources=["arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0a1b2c3d"]
    ).check()


def test_deny_statements_may_cover_a_whole_service() -> None:
    Statement(effect="Deny", actions=["s3:*"], resources=["arn:aws:s3:::b/*"]).check()


# --- KMS, Lambda, SSM under mocks ---------------------------------------------------------------


@pytest.fixture(scope="module")
def blocks_plan() -> PlanGraph:
    def body(ctx: StackContext) -> None:
        key = CustomerManagedKey(
            "demo-key",
            ctx,
            component="demo",
            purpose="key",
            description="demo",
            services=["logs", "sns"],
            opts=pulumi.ResourceOptions(provider=ctx.primary),
        )
        params = RuntimeParameters(
            "demo-params",
            ctx,
            component="demo",
            kms_key_arn=key.arn,
            values={"tableName": "t"},
            secrets={"apiToken": "s3cr3t-value"},
            opts=pulumi.ResourceOptions(provider=ctx.primary),
        )
        PythonFunction(
            "demo-fn",
            ctx,
            FunctionSpec(
                component="demo",
                purpose="echo",
                module="common.log",
                description="demo",
                statements=[
                    Statement(
                        actions=["dynamodb:GetItem"], resources=["arn:aws:dynamodb:us-east-1:123456789012:table/t"]
                    ),
                    *params.read_statements(),
                ],
                environment={"PARAMETERS_PATH": params.path},
                reserved_concurrency=5,
                dead_letter_arn="arn:aws:sqs:us-east-1:123456789012:dlq",
            ),
            kms_key_arn=key.arn,
            opts=pulumi.ResourceOptions(provider=ctx.primary),
        )

    return build("prod", body)


def test_key_rotates_and_is_protected_in_prod(blocks_plan: PlanGraph) -> None:
    key = blocks_plan.one("aws:kms/key:Key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.protect is True
    alias = blocks_plan.one("aws:kms/alias:Alias")
    assert alias.inputs["name"] == "alias/platform-prod-demo-key"


def test_key_policy_names_only_root_and_the_given_services(blocks_plan: PlanGraph) -> None:
    policy = json.loads(blocks_plan.one("aws:kms/key:Key").inputs["policy"])
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert by_sid["EnableAccountAdministration"]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}
    assert by_sid["AllowCloudWatchLogs"]["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert by_sid["AllowCloudWatchLogs"]["Condition"]["ArnLike"] == {
        "kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:*"
    }
    assert by_sid["AllowSns"]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}
    assert set(by_sid) == {"EnableAccountAdministration", "AllowCloudWatchLogs", "AllowSns"}


def test_parameters_live_under_the_component_path(blocks_plan: PlanGraph) -> None:
    params = {r.inputs["name"]: r.inputs for r in blocks_plan.of_type("aws:ssm/parameter:Parameter")}
    assert params["/platform/prod/demo/tableName"]["type"] == "String"
    # Plain settings stay readable in previews; only SecureString values are secret.
    assert params["/platform/prod/demo/tableName"]["insecureValue"] == "t"
    assert "value" not in params["/platform/prod/demo/tableName"]
    secret = params["/platform/prod/demo/apiToken"]
    assert secret["type"] == "SecureString"
    assert secret["keyId"].startswith(f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/")


def test_function_is_arm64_python_with_json_logs_and_tracing(blocks_plan: PlanGraph) -> None:
    fn = blocks_plan.one("aws:lambda/function:Function")
    assert fn.inputs["name"] == "platform-prod-demo-echo"
    assert fn.inputs["runtime"] == "python3.13"
    assert fn.inputs["architectures"] == ["arm64"]
    assert fn.inputs["handler"] == "handlers.common.log.handler"
    assert fn.inputs["reservedConcurrentExecutions"] == 5
    assert fn.inputs["tracingConfig"] == {"mode": "Active"}
    assert fn.inputs["loggingConfig"]["logFormat"] == "JSON"
    assert fn.inputs["deadLetterConfig"] == {"targetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"}
    assert fn.inputs["environment"]["variables"]["PARAMETERS_PATH"] == "/platform/prod/demo"
    log_group = blocks_plan.one("aws:cloudwatch/logGroup:LogGroup")
    assert log_group.inputs["name"] == "/aws/lambda/platform-prod-demo-echo"
    assert log_group.inputs["retentionInDays"] == stack_config("prod")["platform:logRetentionDays"]
    assert log_group.inputs["kmsKeyId"].startswith("arn:aws:kms:us-east-1:")
    assert log_group.urn in fn.depends_on


def test_function_role_gets_exactly_what_it_was_given(blocks_plan: PlanGraph) -> None:
    role = blocks_plan.one("aws:iam/role:Role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    # Lambda documents no aws:SourceAccount for AssumeRole (tests/least_privilege/conditions.py).
    assert "Condition" not in trust
    policy = json.loads(blocks_plan.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"])
    grants = {s["Sid"]: (s["Action"], s["Resource"]) for s in policy["Statement"] if "Sid" in s}
    assert grants["WriteOwnLogs"] == (
        ["logs:CreateLogStream", "logs:PutLogEvents"],
        f"arn:aws:logs:us-east-1:{ACCOUNT_ID}:log-group:/aws/lambda/platform-prod-demo-echo:*",
    )
    assert grants["ReadRuntimeParameters"] == (
        "ssm:GetParametersByPath",
        [
            f"arn:aws:ssm:us-east-1:{ACCOUNT_ID}:parameter/platform/prod/demo",
            f"arn:aws:ssm:us-east-1:{ACCOUNT_ID}:parameter/platform/prod/demo/*",
        ],
    )
    assert grants["DeadLetter"] == ("sqs:SendMessage", "arn:aws:sqs:us-east-1:123456789012:dlq")
    unnamed = [s for s in policy["Statement"] if "Sid" not in s]
    assert unnamed == [
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/t"}
    ]


def test_archive_holds_the_module_its_package_and_common_only() -> None:
    archive = handler_archive("common.log")
    names = set(archive.assets)
    assert "handlers/__init__.py" in names and "handlers/common/log.py" in names
    assert all(n.startswith("handlers/common/") or n == "handlers/__init__.py" for n in names)
    with pytest.raises(FileNotFoundError, match="missing_module"):
        handler_archive("common.missing_module")


# --- KMS use through services -------------------------------------------------------------------


def test_key_use_through_one_service_is_a_single_via_service_value() -> None:
    statement = key_use_through(
        "UseTableKey", "arn:aws:kms:us-east-1:1:key/k", ["kms:Decrypt"], ["dynamodb"], "us-east-1"
    )
    assert (statement.sid, statement.actions, statement.resources) == (
        "UseTableKey",
        ["kms:Decrypt"],
        ["arn:aws:kms:us-east-1:1:key/k"],
    )
    assert statement.conditions == {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}


def test_key_use_through_several_services_lists_each_in_the_region() -> None:
    statement = key_use_through("Queue", "arn:k", ["kms:GenerateDataKey"], ["sns", "sqs"], "eu-west-1")
    assert statement.conditions == {
        "StringEquals": {"kms:ViaService": ["sns.eu-west-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com"]}
    }
