"""SQS queues encrypted with a component's CMK, and the queue policies that let AWS services send to them.

Components use them as failure queues / dead-letter queues (Lambda destinations, EventBridge target DLQs,
async-invoke DLQs) and as work queues. They hold messages that still need handling, so they are stateful
(protected in prod).
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import Statement, policy_document

# SQS maximum: two weeks for an operator to inspect and redrive what failed.
MAX_RETENTION_SECONDS = 14 * 24 * 3600
# How long SQS reuses a data key before asking KMS again (SQS default; fewer KMS calls per message).
DATA_KEY_REUSE_SECONDS = 300


def encrypted_queue(
    name: str,
    ctx: StackContext,
    *,
    component: str,
    purpose: str,
    kms_key_arn: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
    retention_seconds: int = MAX_RETENTION_SECONDS,
    visibility_timeout_seconds: int | None = None,
    dead_letter_queue: aws.sqs.Queue | None = None,
    max_receive_count: int | None = None,
) -> aws.sqs.Queue:
    """A queue named via ctx.name(component, purpose, service="sqs"), SSE-KMS with `kms_key_arn`.

    With `dead_letter_queue`, messages received `max_receive_count` times without being deleted move there.
    """
    if (dead_letter_queue is None) != (max_receive_count is None):
        raise ValueError(f"{name}: dead_letter_queue and max_receive_count go together (give both or neither)")
    redrive = (
        pulumi.Output.json_dumps({"deadLetterTargetArn": dead_letter_queue.arn, "maxReceiveCount": max_receive_count})
        if dead_letter_queue is not None
        else None
    )
    return aws.sqs.Queue(
        name,
        name=ctx.name(component, purpose, service="sqs"),
        kms_master_key_id=kms_key_arn,
        kms_data_key_reuse_period_seconds=DATA_KEY_REUSE_SECONDS,
        message_retention_seconds=retention_seconds,
        visibility_timeout_seconds=visibility_timeout_seconds,
        redrive_policy=redrive,
        opts=ctx.stateful(opts),
    )


def allow_service_to_send(
    name: str,
    queue: aws.sqs.Queue,
    *,
    sid: str,
    service: str,
    source_arns: pulumi.Input[str] | Sequence[pulumi.Input[str]],
    opts: pulumi.ResourceOptions,
) -> aws.sqs.QueuePolicy:
    """The queue's policy: `service` (e.g. events.amazonaws.com) may send, only on behalf of `source_arns`.

    Pass one ARN or a list; it is written to the `aws:SourceArn` condition as given.
    """
    return aws.sqs.QueuePolicy(
        name,
        queue_url=queue.url,
        policy=policy_document(
            Statement(
                sid=sid,
                principals={"Service": service},
                actions=["sqs:SendMessage"],
                resources=[queue.arn],
                conditions={"ArnEquals": {"aws:SourceArn": source_arns}},
            )
        ),
        opts=opts,
    )
