"""(3) Key policies: every principal that uses a customer managed key is allowed by the key's policy.

Users come from the plan: each role's KMS requests (from the function and service-role checks), and
each AWS service that encrypts with the key on our behalf: CloudWatch Logs for encrypted log groups,
SNS publishers (CloudWatch alarms, EventBridge targets, Backup notifications) for encrypted topics,
EventBridge for encrypted queues it delivers to and encrypted buses, S3 server access logging for an
encrypted target bucket, and the EKS cluster role for secrets encryption. A service's request carries
only the condition keys conditions.SERVICE_USES says it sends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from offline.iam_eval import Decision, Request, key_policy_allows
from offline.mocks import ACCOUNT_ID
from tests.least_privilege.conditions import UNSUPPORTED_ACCESS_LOGS, context_for, find_use
from tests.least_privilege.grants import Verdict
from tests.least_privilege.plan_model import PermissionModel, arn_region


@dataclass(frozen=True)
class KeyUse:
    why: str
    request: Request  # principal set: a role ARN or a service principal
    # The role's own policies; None: the key policy alone is checked here (IAM is checked in (1)/(2)).
    identity: Sequence[dict[str, Any]] | None = None
    unsupported: str = ""  # AWS refuses this use whatever the policy says

    def describe(self) -> str:
        return f"{self.why}: {self.request.principal} {self.request.describe()}"


def role_key_uses(model: PermissionModel, verdicts: Iterable[Verdict]) -> Iterator[KeyUse]:
    for v in verdicts:
        for need in v.checked:
            if need.request.action.startswith("kms:") and need.request.resource in model.keys:
                request = Request(need.request.action, need.request.resource, need.request.context, v.role.arn)
                yield KeyUse(f"{v.subject}: {need.origin}", request)


def _service(
    principal: str, use: str, via: str, key: str, actions: Iterable[str], source: str, ctx: dict[str, str]
) -> Iterator[KeyUse]:
    region = arn_region(key)
    principal = principal.replace("{region}", region)
    row = find_use(principal, "kms", via)
    context = context_for(row, ACCOUNT_ID, source, ctx)
    unsupported = row.via if "not supported" in row.via else ""
    for action in actions:
        yield KeyUse(f"{via} ({source})", Request(action, key, context, principal), None, unsupported)


SNS_PUBLISHER_KMS = ("kms:GenerateDataKey", "kms:Decrypt")  # sns-key-management.html


def service_key_uses(model: PermissionModel) -> Iterator[KeyUse]:
    for group in model.resources("aws:cloudwatch/logGroup:LogGroup"):
        arn = model.arn(group)
        key = model.key_of(arn)
        if key:
            yield from _service(
                "logs.{region}.amazonaws.com",
                "kms",
                "CloudWatch Logs encrypting a log group",
                key,
                ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"),
                arn,
                {"aws:logs:arn": arn},
            )
    for alarm in model.resources("aws:cloudwatch/metricAlarm:MetricAlarm"):
        for topic in {*(alarm.inputs.get("alarmActions") or []), *(alarm.inputs.get("okActions") or [])}:
            key = model.key_of(topic)
            if key:
                yield from _service(
                    "cloudwatch.amazonaws.com",
                    "kms",
                    "CloudWatch alarm actions to a CMK-encrypted SNS topic",
                    key,
                    SNS_PUBLISHER_KMS,
                    model.arn(alarm),
                    {},
                )
    for target in model.resources("aws:cloudwatch/eventTarget:EventTarget"):
        rule = f"arn:aws:events:{arn_region(str(target.inputs['arn']))}:{ACCOUNT_ID}:rule/{target.inputs.get('rule')}"
        destinations = [str(target.inputs["arn"]), str((target.inputs.get("deadLetterConfig") or {}).get("arn") or "")]
        for destination in filter(None, destinations):
            key = model.key_of(destination)
            if key and destination.startswith("arn:aws:sns:"):
                yield from _service(
                    "events.amazonaws.com",
                    "kms",
                    "EventBridge delivering to a CMK-encrypted SNS topic",
                    key,
                    SNS_PUBLISHER_KMS,
                    rule,
                    {},
                )
            elif key and destination.startswith("arn:aws:sqs:"):
                yield from _service(
                    "events.amazonaws.com",
                    "kms",
                    "EventBridge delivering to a CMK-encrypted SQS queue",
                    key,
                    ("kms:GenerateDataKey", "kms:Decrypt"),
                    rule,
                    {},
                )
    for bus in model.resources("aws:cloudwatch/eventBus:EventBus"):
        key = model.key_of(model.arn(bus))
        if key:
            yield from _service(
                "events.amazonaws.com",
                "kms",
                "EventBridge encrypting events on a CMK event bus",
                key,
                ("kms:GenerateDataKey", "kms:Decrypt"),
                model.arn(bus),
                {"aws:events:event-bus:arn": model.arn(bus)},
            )
    for notifications in model.resources("aws:backup/vaultNotifications:VaultNotifications"):
        topic = str(notifications.inputs["snsTopicArn"])
        key = model.key_of(topic)
        if key:
            name = notifications.inputs["backupVaultName"]
            vault = f"arn:aws:backup:{arn_region(topic)}:{ACCOUNT_ID}:backup-vault:{name}"
            yield from _service(
                "backup.amazonaws.com",
                "kms",
                "AWS Backup publishing vault events to a CMK-encrypted SNS topic",
                key,
                SNS_PUBLISHER_KMS,
                vault,
                {},
            )
    for logging in model.resources("aws:s3/bucketLogging:BucketLogging") + model.resources(
        "aws:s3/bucketLoggingV2:BucketLoggingV2"
    ):
        target = f"arn:aws:s3:::{logging.inputs['targetBucket']}"
        key = model.key_of(target)
        if key:
            yield from _service(
                "logging.s3.amazonaws.com",
                "kms",
                UNSUPPORTED_ACCESS_LOGS,
                key,
                ("kms:GenerateDataKey",),
                f"arn:aws:s3:::{logging.inputs['bucket']}",
                {},
            )
    for cluster in model.resources("eks:index:Cluster"):
        key = model.key_arn(cluster.inputs.get("encryptionConfigKeyArn"))
        role = model.roles.get(str(cluster.inputs.get("serviceRole", "")).rsplit("/", 1)[-1])
        if key and role:
            # https://docs.aws.amazon.com/eks/latest/userguide/enable-kms.html
            for action in ("kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ListGrants"):
                why = f"EKS secrets envelope encryption ({cluster.inputs.get('name')})"
                yield KeyUse(why, Request(action, key, {}, role.arn))


def key_policy_failures(model: PermissionModel, uses: Iterable[KeyUse]) -> list[str]:
    failures = []
    seen: set[str] = set()
    for use in uses:
        line = use.describe()
        if line in seen:
            continue
        seen.add(line)
        if use.unsupported:
            failures.append(f"{line}: AWS does not support {use.unsupported}")
            continue
        decision = key_policy_allows(model.keys[use.request.resource], use.request, use.identity)
        if decision is not Decision.ALLOWED:
            failures.append(f"{line}: {decision.value} by the key policy of {use.request.resource}")
    return failures
