"""Fixtures of the policy tests: a compliant baseline built from the building blocks, and helpers to
evaluate one policy on a resource, or on a copy of a resource with one input changed."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest

from components.context import StackContext
from components.iam import Statement, policy_document
from components.kms import CustomerManagedKey
from components.lambda_function import FunctionSpec, PythonFunction
from components.runtime_params import RuntimeParameters
from offline.checkov_plan import SHIPPED_STACKS, CheckovReport, evaluate_plan
from offline.mocks import RecordedResource
from offline.policy_run import PolicyReport, evaluate
from offline.runner import PlanGraph
from policy.policies import ALL_POLICIES
from tests.conftest import once_per_run, stack_config
from tests.policy.harness import run_resources

POLICIES = {p.name: p for p in ALL_POLICIES}
COMPONENT = "guard"


def tls_only_policy(bucket_arn: pulumi.Input[str]) -> pulumi.Output[str]:
    """The bucket policy the platform requires: deny every request made without TLS."""
    return pulumi.Output.all(bucket_arn).apply(
        lambda arns: json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [arns[0], f"{arns[0]}/*"],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            }
        )
    )


def guarded_bucket(ctx: StackContext, purpose: str, key_arn: pulumi.Input[str], opts: pulumi.ResourceOptions) -> None:
    """A bucket with every setting the S3 guardrails ask for."""
    bucket = aws.s3.Bucket(
        f"{purpose}-bucket", bucket=ctx.name(COMPONENT, purpose, service="s3"), opts=ctx.stateful(opts)
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{purpose}-encryption",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms", "kms_master_key_id": key_arn},
                "bucket_key_enabled": True,
            }
        ],
        opts=opts,
    )
    aws.s3.BucketPublicAccessBlock(
        f"{purpose}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    aws.s3.BucketPolicy(f"{purpose}-policy", bucket=bucket.id, policy=tls_only_policy(bucket.arn), opts=opts)
    aws.s3.BucketVersioning(
        f"{purpose}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=opts
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{purpose}-lifecycle",
        bucket=bucket.id,
        rules=[
            {
                "id": "age-out",
                "status": "Enabled",
                "filter": {},
                "transitions": [{"days": 30, "storage_class": "STANDARD_IA"}, {"days": 90, "storage_class": "GLACIER"}],
            }
        ],
        opts=opts,
    )


def compliant_platform(ctx: StackContext) -> None:
    """One of each kind of resource the guardrails judge, configured as the platform requires."""
    opts = pulumi.ResourceOptions(provider=ctx.primary)
    key = CustomerManagedKey(
        "guard-key",
        ctx,
        component=COMPONENT,
        purpose="data",
        description="Guardrail test key",
        services=["logs", "sqs", "sns", "events"],
        opts=opts,
    )
    dlq = aws.sqs.Queue(
        "guard-dlq",
        name=ctx.name(COMPONENT, "dlq", service="sqs"),
        kms_master_key_id=key.arn,
        message_retention_seconds=1209600,
        opts=ctx.stateful(opts),
    )
    stream = aws.kinesis.Stream(
        "guard-stream",
        name=ctx.name(COMPONENT, "events", service="kinesis"),
        shard_count=2,
        encryption_type="KMS",
        kms_key_id=key.arn,
        opts=ctx.stateful(opts),
    )
    table = aws.dynamodb.Table(
        "guard-table",
        name=ctx.name(COMPONENT, "features", service="dynamodb"),
        billing_mode="PAY_PER_REQUEST",
        hash_key="userId",
        attributes=[{"name": "userId", "type": "S"}],
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
        opts=ctx.stateful(opts),
    )
    aws.sns.Topic(
        "guard-topic", name=ctx.name(COMPONENT, "alerts", service="sns"), kms_master_key_id=key.arn, opts=opts
    )
    params = RuntimeParameters(
        "guard-params",
        ctx,
        component=COMPONENT,
        kms_key_arn=key.arn,
        values={"mode": "strict"},
        secrets={"token": "t0"},
        opts=opts,
    )
    worker = PythonFunction(
        "guard-worker",
        ctx,
        FunctionSpec(
            component=COMPONENT,
            purpose="worker",
            module="common.batch",
            description="Guardrail test function",
            statements=[
                Statement(
                    sid="ReadStream", actions=["kinesis:GetRecords", "kinesis:GetShardIterator"], resources=[stream.arn]
                ),
                Statement(sid="WriteFeatures", actions=["dynamodb:UpdateItem"], resources=[table.arn]),
                *params.read_statements(),
            ],
            dead_letter_arn=dlq.arn,
        ),
        kms_key_arn=key.arn,
        opts=opts,
    )
    aws.lambda_.EventSourceMapping(
        "guard-stream-mapping",
        function_name=worker.arn,
        event_source_arn=stream.arn,
        starting_position="TRIM_HORIZON",
        batch_size=100,
        bisect_batch_on_function_error=True,
        maximum_retry_attempts=3,
        function_response_types=["ReportBatchItemFailures"],
        destination_config={"on_failure": {"destination_arn": dlq.arn}},
        opts=opts,
    )
    aws.lambda_.EventSourceMapping(
        "guard-queue-mapping",
        function_name=worker.arn,
        event_source_arn=dlq.arn,
        batch_size=10,
        function_response_types=["ReportBatchItemFailures"],
        opts=opts,
    )
    aws.lambda_.FunctionEventInvokeConfig(
        "guard-invoke-config",
        function_name=worker.name,
        maximum_retry_attempts=2,
        destination_config={"on_failure": {"destination": dlq.arn}},
        opts=opts,
    )
    bus = aws.cloudwatch.EventBus("guard-bus", name=ctx.name(COMPONENT, "bus", service="events"), opts=opts)
    rule = aws.cloudwatch.EventRule(
        "guard-rule",
        name=ctx.name(COMPONENT, "placed", service="events"),
        event_bus_name=bus.name,
        event_pattern=json.dumps({"source": ["ecommerce.orders"]}),
        opts=opts,
    )
    aws.cloudwatch.EventTarget(
        "guard-target",
        rule=rule.name,
        event_bus_name=bus.name,
        arn=worker.arn,
        dead_letter_config={"arn": dlq.arn},
        retry_policy={"maximum_retry_attempts": 3, "maximum_event_age_in_seconds": 3600},
        opts=opts,
    )
    aws.lambda_.Permission(
        "guard-permission",
        action="lambda:InvokeFunction",
        function=worker.name,
        principal="events.amazonaws.com",
        source_arn=rule.arn,
        opts=opts,
    )
    machine_logs = aws.cloudwatch.LogGroup(
        "guard-machine-logs",
        name=f"/aws/vendedlogs/states/{ctx.name(COMPONENT, 'flow', service='sfn')}",
        retention_in_days=ctx.config.log_retention_days,
        kms_key_id=key.arn,
        opts=opts,
    )
    aws.sfn.StateMachine(
        "guard-machine",
        name=ctx.name(COMPONENT, "flow", service="sfn"),
        role_arn=worker.role.arn,
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        logging_configuration={
            "level": "ALL",
            "include_execution_data": True,
            "log_destination": pulumi.Output.concat(machine_logs.arn, ":*"),
        },
        tracing_configuration={"enabled": True},
        opts=opts,
    )
    for purpose in ("raw", "athena-results"):
        guarded_bucket(ctx, purpose, key.arn, opts)
    dr_key = CustomerManagedKey(
        "guard-dr-key",
        ctx,
        component=COMPONENT,
        purpose="dr",
        description="Guardrail test DR key",
        region=ctx.dr_region,
        opts=pulumi.ResourceOptions(provider=ctx.dr),
    )
    dr_vault = aws.backup.Vault(
        "guard-dr-vault",
        name=ctx.name(COMPONENT, "dr", service="backup"),
        kms_key_arn=dr_key.arn,
        opts=ctx.stateful(pulumi.ResourceOptions(provider=ctx.dr)),
    )
    vault = aws.backup.Vault(
        "guard-vault", name=ctx.name(COMPONENT, "vault", service="backup"), kms_key_arn=key.arn, opts=ctx.stateful(opts)
    )
    aws.backup.Plan(
        "guard-plan",
        name=ctx.name(COMPONENT, "plan", service="backup"),
        rules=[
            {
                "rule_name": "daily",
                "target_vault_name": vault.name,
                "schedule": "cron(0 2 * * ? *)",
                "lifecycle": {"cold_storage_after": 30, "delete_after": 365},
                "copy_actions": [{"destination_vault_arn": dr_vault.arn, "lifecycle": {"delete_after": 365}}],
            }
        ],
        opts=opts,
    )
    aws.iam.Policy(
        "guard-managed-policy",
        name=ctx.name(COMPONENT, "reader", service="iam"),
        policy=policy_document(Statement(sid="ReadTable", actions=["dynamodb:GetItem"], resources=[table.arn])),
        opts=opts,
    )


@pytest.fixture(scope="session")
def baseline() -> PlanGraph:
    """The compliant baseline, as prod (where protection and endpoint rules are strictest)."""
    return run_resources("prod", stack_config("prod"), compliant_platform)


Mutation = Callable[[dict[str, Any]], Any]


def mutated(
    graph: PlanGraph, resource: RecordedResource, change: Mutation, *, protect: bool | None = None
) -> PlanGraph:
    """The graph with one resource's inputs (and state) changed by `change(inputs)`; others untouched."""
    inputs = copy.deepcopy(resource.inputs)
    change(inputs)
    # The state is the provider-computed outputs plus the (changed) inputs.
    computed = {k: v for k, v in resource.outputs.items() if k not in resource.inputs}
    outputs = {**copy.deepcopy(computed), **inputs}
    changed = replace(
        resource, inputs=inputs, outputs=outputs, protect=resource.protect if protect is None else protect
    )
    return replace(graph, resources=[changed if r is resource else r for r in graph.resources])


def messages(report: PolicyReport, policy: str, resource_name: str | None = None) -> list[str]:
    """The violation texts of one policy (optionally on one resource), without the remediation."""
    return [
        v.message.split("\nRemediation:", 1)[0]
        for v in report.violations
        if v.policy == policy and (resource_name is None or v.resource_name == resource_name)
    ]


def check(graph: PlanGraph, policy: str) -> PolicyReport:
    """Evaluate a single policy over a graph (as the engine would)."""
    return evaluate(graph, policies=[POLICIES[policy]])


def set_path(path: str, value: Any) -> Mutation:
    """A mutation setting `a.b.0.c` (creating mappings as needed); value None deletes the key."""

    def change(inputs: dict[str, Any]) -> None:
        *parents, leaf = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = inputs
        for part in parents:
            node = node[part] if isinstance(part, int) else node.setdefault(part, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value

    return change


def with_document(key: str, document: Mapping[str, Any]) -> Mutation:
    """A mutation replacing a JSON document input (policy, assumeRolePolicy)."""
    return set_path(key, json.dumps(document))


SHIPPED = list(SHIPPED_STACKS)


def shipped_plans(request: pytest.FixtureRequest) -> Iterator[PlanGraph]:
    for stack in SHIPPED:
        yield request.getfixturevalue(f"{stack}_plan")


@pytest.fixture(scope="session")
def checkov_reports(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, CheckovReport]:
    """checkov's verdict on each shipped stack (a checkov process of a few seconds each, run side by side),
    evaluated once per run for every worker."""

    def evaluate_all() -> dict[str, CheckovReport]:
        plans = list(shipped_plans(request))
        with ThreadPoolExecutor(max_workers=len(plans)) as pool:
            reports = pool.map(lambda plan: evaluate_plan(plan, environment_of(plan)), plans)
            return {plan.stack: report for plan, report in zip(plans, reports, strict=True)}

    return once_per_run(tmp_path_factory, "checkov-reports", evaluate_all)


def environment_of(plan: PlanGraph) -> str:
    return str(stack_config(plan.stack)["platform:environment"])
