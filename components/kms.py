"""Customer-managed KMS keys: rotation on, and a key policy naming exactly who may use the key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import Statement, policy_document, root_administration

KEY_USE_ACTIONS = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")

# Services whose key use carries no aws:SourceAccount (their docs document none), so a condition on it
# would refuse them. backup: the BackupVault article's "Allow AWS Backup to use the key"; its vault
# notifications reach the CMK-encrypted topic through SNS, which asks KMS on Backup's behalf without
# source keys (tests/least_privilege/conditions.py has the links).
UNCONDITIONED_SERVICES = frozenset({"backup"})


def key_use_through(
    sid: str, key_arn: pulumi.Input[str], actions: Sequence[str], services: Sequence[str], region: str
) -> Statement:
    """Use of a CMK only through the named services in `region` (e.g. DynamoDB, SQS, S3 encrypt and
    decrypt with it on the caller's behalf): an identity statement with a kms:ViaService condition."""
    via = [f"{service}.{region}.amazonaws.com" for service in services]
    return Statement(
        sid=sid,
        actions=list(actions),
        resources=[key_arn],
        conditions={"StringEquals": {"kms:ViaService": via if len(via) > 1 else via[0]}},
    )


def service_use_statement(ctx: StackContext, service: str, region: str) -> Statement:
    """Let an AWS service principal (e.g. `sns`, `logs`) use the key on behalf of this account only."""
    if service == "logs":
        # CloudWatch Logs encrypts with the log group ARN as encryption context.
        return Statement(
            sid="AllowCloudWatchLogs",
            principals={"Service": f"logs.{region}.amazonaws.com"},
            actions=list(KEY_USE_ACTIONS),
            resources=["*"],
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": ctx.arn("logs", "log-group:*", region=region),
                }
            },
        )
    return Statement(
        sid=f"Allow{service.title().replace('-', '')}",
        principals={"Service": f"{service}.amazonaws.com"},
        actions=list(KEY_USE_ACTIONS),
        resources=["*"],
        conditions=None
        if service in UNCONDITIONED_SERVICES
        else {"StringEquals": {"aws:SourceAccount": ctx.account_id}},
    )


# EventBridge delivering to a CMK-encrypted SNS topic: SNS asks KMS on EventBridge's behalf without
# aws:SourceAccount / aws:SourceArn, so the conditioned `events` service statement never matches and the
# events are lost; this grant cannot carry those conditions (SNS developer guide, "sns-key-management").
# The topic policy still limits publishing to this account's rules.
EVENTBRIDGE_TO_ENCRYPTED_TOPIC = Statement(
    sid="AllowEventBridgeToEncryptedTopic",
    principals={"Service": "events.amazonaws.com"},
    actions=["kms:Decrypt", "kms:GenerateDataKey"],
    resources=["*"],
)


class CustomerManagedKey(pulumi.ComponentResource):
    """A symmetric CMK with yearly rotation and an alias `alias/<project>-<stack>-<component>-<purpose>`."""

    key: aws.kms.Key
    alias: aws.kms.Alias

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        *,
        component: str,
        purpose: str,
        description: str,
        services: Sequence[str] = (),
        extra_statements: Sequence[Statement] = (),
        region: str | None = None,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:security:CustomerManagedKey", name, None, opts)
        key_region = region or ctx.region
        statements = [
            root_administration(ctx.account_id, ctx.partition),
            *(service_use_statement(ctx, service, key_region) for service in services),
            *extra_statements,
        ]
        child = pulumi.ResourceOptions(parent=self)
        self.key = aws.kms.Key(
            f"{name}-key",
            description=description,
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=policy_document(*statements),
            tags=dict(tags) if tags else None,
            opts=ctx.stateful(child),
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{ctx.name(component, purpose, service='kms-alias')}",
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.key.arn, "alias": self.alias.name})
