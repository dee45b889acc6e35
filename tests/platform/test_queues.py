"""components/queues.py: CMK-encrypted queues and the policies letting services send to them."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.config import load_stack_config
from components.context import StackContext
from components.queues import MAX_RETENTION_SECONDS, allow_service_to_send, encrypted_queue
from offline.mocks import ACCOUNT_ID
from offline.runner import PlanGraph, run_program
from tests.conftest import stack_config

KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/00000000-0000-0000-0000-000000000002"
RULE_ARNS = [f"arn:aws:events:us-east-1:{ACCOUNT_ID}:rule/bus/r1", f"arn:aws:events:us-east-1:{ACCOUNT_ID}:rule/bus/r2"]


def queues_program() -> None:
    ctx = StackContext.create(load_stack_config())
    opts = pulumi.ResourceOptions(provider=ctx.primary)
    dlq = encrypted_queue("demo-dlq", ctx, component="demo", purpose="dlq", kms_key_arn=KEY_ARN, opts=opts)
    work = encrypted_queue(
        "demo-work",
        ctx,
        component="demo",
        purpose="work",
        kms_key_arn=KEY_ARN,
        retention_seconds=4 * 86_400,
        visibility_timeout_seconds=180,
        dead_letter_queue=dlq,
        max_receive_count=5,
        opts=opts,
    )
    allow_service_to_send(
        "demo-work-policy",
        work,
        sid="RulesSend",
        service="events.amazonaws.com",
        source_arns=RULE_ARNS,
        opts=opts,
    )
    allow_service_to_send(
        "demo-dlq-policy", dlq, sid="OneRule", service="events.amazonaws.com", source_arns=RULE_ARNS[0], opts=opts
    )


@pytest.fixture(scope="module", params=["dev", "prod"])
def queues_plan(request: pytest.FixtureRequest) -> PlanGraph:
    return run_program(request.param, stack_config(request.param), program=queues_program)


def test_queue_is_named_per_component_and_encrypted_with_the_cmk(queues_plan: PlanGraph) -> None:
    dlq = queues_plan.one("aws:sqs/queue:Queue", "demo-dlq")
    assert dlq.inputs["name"] == f"platform-{queues_plan.stack}-demo-dlq"
    assert dlq.inputs["kmsMasterKeyId"] == KEY_ARN
    assert dlq.inputs["kmsDataKeyReusePeriodSeconds"] == 300
    assert dlq.inputs["messageRetentionSeconds"] == MAX_RETENTION_SECONDS == 1_209_600
    assert "visibilityTimeoutSeconds" not in dlq.inputs
    assert "redrivePolicy" not in dlq.inputs


def test_queues_are_protected_in_prod_only(queues_plan: PlanGraph) -> None:
    assert {q.protect for q in queues_plan.of_type("aws:sqs/queue:Queue")} == {queues_plan.stack == "prod"}


def test_work_queue_redrives_to_its_dead_letter_queue(queues_plan: PlanGraph) -> None:
    work = queues_plan.one("aws:sqs/queue:Queue", "demo-work").inputs
    dlq = queues_plan.one("aws:sqs/queue:Queue", "demo-dlq")
    assert work["messageRetentionSeconds"] == 4 * 86_400
    assert work["visibilityTimeoutSeconds"] == 180
    assert json.loads(work["redrivePolicy"]) == {"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 5}


def test_dead_letter_queue_needs_a_receive_count() -> None:
    def program() -> None:
        ctx = StackContext.create(load_stack_config())
        dlq = encrypted_queue(
            "x-dlq", ctx, component="demo", purpose="x", kms_key_arn=KEY_ARN, opts=pulumi.ResourceOptions()
        )
        encrypted_queue(
            "x-work",
            ctx,
            component="demo",
            purpose="y",
            kms_key_arn=KEY_ARN,
            dead_letter_queue=dlq,
            opts=pulumi.ResourceOptions(),
        )

    with pytest.raises(ValueError, match="x-work: dead_letter_queue and max_receive_count go together"):
        run_program("dev", stack_config("dev"), program=program)


def test_only_the_named_service_may_send_and_only_for_the_given_sources(queues_plan: PlanGraph) -> None:
    policies = {p.name: p for p in queues_plan.of_type("aws:sqs/queuePolicy:QueuePolicy")}
    work = queues_plan.one("aws:sqs/queue:Queue", "demo-work")
    assert policies["demo-work-policy"].inputs["queueUrl"] == work.outputs["url"]
    statement = json.loads(policies["demo-work-policy"].inputs["policy"])["Statement"]
    assert statement == [
        {
            "Sid": "RulesSend",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": work.outputs["arn"],
            "Condition": {"ArnEquals": {"aws:SourceArn": RULE_ARNS}},
        }
    ]
    single = json.loads(policies["demo-dlq-policy"].inputs["policy"])["Statement"][0]
    assert single["Condition"] == {"ArnEquals": {"aws:SourceArn": RULE_ARNS[0]}}
