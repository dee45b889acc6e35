"""(5) Which condition keys each AWS service principal really sends, per use, from AWS's docs.

A condition on a key the request does not carry is false, so a statement that names one is dead and
the service is refused. Every row links the page it comes from; `sends` lists the keys the service
puts in that request (`aws:SourceAccount`, `aws:SourceArn`, Firehose's `sts:ExternalId`), `context` the KMS encryption
context keys. A row with empty `sends` means the page documents no such key for that use: a condition
on it is not backed and must go (or the row must gain a link that backs it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SOURCE_KEYS = frozenset({"aws:sourceaccount", "aws:sourcearn", "sts:externalid"})
BOTH = frozenset({"aws:SourceAccount", "aws:SourceArn"})
NONE: frozenset[str] = frozenset()
UNSUPPORTED_ACCESS_LOGS = "S3 server access logs into an SSE-KMS bucket (not supported: SSE-S3 only)"


@dataclass(frozen=True)
class ServiceUse:
    principal: str  # `{region}` stands for the region of the resource
    use: str  # trust | kms | sns | sqs
    via: str  # what the service is doing
    sends: frozenset[str]
    link: str
    context: frozenset[str] = NONE

    def matches(self, principal: str, use: str) -> bool:
        head, _, tail = self.principal.partition("{region}")
        fits = principal == self.principal or (bool(tail) and principal.startswith(head) and principal.endswith(tail))
        return fits and use == self.use


SERVICE_USES: tuple[ServiceUse, ...] = (
    # Trust policies (sts:AssumeRole by the service).
    ServiceUse("states.amazonaws.com", "trust", "Step Functions assuming the execution role", BOTH,
               "https://docs.aws.amazon.com/step-functions/latest/dg/procedure-create-iam-role.html"),
    ServiceUse("monitoring.rds.amazonaws.com", "trust", "RDS Enhanced Monitoring", BOTH,
               "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html"),
    ServiceUse("sagemaker.amazonaws.com", "trust", "SageMaker assuming the model execution role", BOTH,
               "https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html"),
    ServiceUse("vpc-flow-logs.amazonaws.com", "trust", "VPC Flow Logs publishing to CloudWatch Logs", BOTH,
               "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html"),
    ServiceUse("firehose.amazonaws.com", "trust", "Firehose assuming the delivery role (the account id as external id)",
               frozenset({"sts:ExternalId"}),
               "https://docs.aws.amazon.com/firehose/latest/dev/controlling-access.html#using-iam-s3"),
    ServiceUse("lambda.amazonaws.com", "trust", "Lambda assuming the execution role", NONE,
               "https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html"),
    ServiceUse("glue.amazonaws.com", "trust", "Glue assuming the job/crawler role", NONE,
               "https://docs.aws.amazon.com/glue/latest/dg/create-an-iam-role.html"),
    ServiceUse("events.amazonaws.com", "trust", "EventBridge assuming a target role", NONE,
               "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html"),
    ServiceUse("s3.amazonaws.com", "trust", "S3 replication assuming the replication role", NONE,
               "https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html"),
    ServiceUse("backup.amazonaws.com", "trust", "AWS Backup assuming the service role", NONE,
               "https://docs.aws.amazon.com/aws-backup/latest/devguide/iam-service-roles.html"),
    ServiceUse("eks.amazonaws.com", "trust", "EKS assuming the cluster role", NONE,
               "https://docs.aws.amazon.com/eks/latest/userguide/cluster-iam-role.html"),
    ServiceUse("ec2.amazonaws.com", "trust", "EC2 nodes assuming the node role", NONE,
               "https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html"),
    ServiceUse("pods.eks.amazonaws.com", "trust", "EKS Pod Identity assuming a pod's role", BOTH,
               "https://docs.aws.amazon.com/eks/latest/userguide/pod-id-role.html"),
    ServiceUse("codebuild.amazonaws.com", "trust", "CodeBuild assuming the project's service role", BOTH,
               "https://docs.aws.amazon.com/codebuild/latest/userguide/cross-service-confused-deputy-prevention.html"),
    # Key policies (the service principal calling KMS itself).
    ServiceUse("logs.{region}.amazonaws.com", "kms", "CloudWatch Logs encrypting a log group", NONE,
               "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
               frozenset({"aws:logs:arn"})),
    ServiceUse("cloudwatch.amazonaws.com", "kms", "CloudWatch alarm actions to a CMK-encrypted SNS topic", BOTH,
               "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services"),
    ServiceUse("events.amazonaws.com", "kms", "EventBridge delivering to a CMK-encrypted SNS topic", NONE,
               "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services"),
    ServiceUse("events.amazonaws.com", "kms", "EventBridge delivering to a CMK-encrypted SQS queue", BOTH,
               "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-troubleshooting.html#eb-sqs-encrypted"),
    ServiceUse("events.amazonaws.com", "kms", "EventBridge encrypting events on a CMK event bus", BOTH,
               "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-encryption-key-policy.html",
               frozenset({"aws:events:event-bus:arn"})),
    ServiceUse("backup.amazonaws.com", "kms", "AWS Backup publishing vault events to a CMK-encrypted SNS topic", NONE,
               "https://docs.aws.amazon.com/aws-backup/latest/devguide/backup-notifications.html"),
    ServiceUse("delivery.logs.amazonaws.com", "kms", "vended log delivery (Step Functions logs)", BOTH,
               "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html"),
    ServiceUse("logging.s3.amazonaws.com", "kms", UNSUPPORTED_ACCESS_LOGS, NONE,
               "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html"),
    # Resource policies of the targets (the service calling sns:Publish / sqs:SendMessage).
    ServiceUse("events.amazonaws.com", "sns", "EventBridge rule target", BOTH,
               "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sns-permissions"),
    ServiceUse("events.amazonaws.com", "sqs", "EventBridge rule target or dead-letter queue", BOTH,
               "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions"),
    ServiceUse("cloudwatch.amazonaws.com", "sns", "CloudWatch alarm action", BOTH,
               "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-actions.html"),
    ServiceUse("backup.amazonaws.com", "sns", "AWS Backup vault notifications", BOTH,
               "https://docs.aws.amazon.com/aws-backup/latest/devguide/backup-notifications.html"),
    ServiceUse("s3.amazonaws.com", "sns", "S3 event notifications", BOTH,
               "https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html"),
    ServiceUse("s3.amazonaws.com", "sqs", "S3 event notifications", BOTH,
               "https://docs.aws.amazon.com/AmazonS3/latest/userguide/grant-destinations-permissions-to-s3.html"),
    ServiceUse("logging.s3.amazonaws.com", "s3", "S3 server access log delivery", BOTH,
               "https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html"),
)  # fmt: skip


def uses_of(principal: str, use: str) -> list[ServiceUse]:
    return [row for row in SERVICE_USES if row.matches(principal, use)]


def find_use(principal: str, use: str, via: str) -> ServiceUse:
    for row in uses_of(principal, use):
        if row.via == via:
            return row
    raise LookupError(f"no row for {principal} ({use}) doing {via!r} in SERVICE_USES: add it with its AWS doc link")


def unbacked_keys(principal: str, use: str, condition_keys: Iterable[str]) -> list[str]:
    """Condition keys that no documented use of this principal sends (empty when all are backed)."""
    rows = uses_of(principal, use)
    if not rows:
        return [f"{key} (no documented {use} use of {principal})" for key in condition_keys]
    sent = {k.lower() for row in rows for k in row.sends}
    contexts = {f"kms:encryptioncontext:{c}".lower() for row in rows for c in row.context}
    unbacked = []
    for key in condition_keys:
        lowered = key.lower()
        if (lowered in SOURCE_KEYS and lowered not in sent) or (
            lowered.startswith("kms:encryptioncontext:") and lowered not in contexts
        ):
            unbacked.append(key)
    return unbacked


def context_for(row: ServiceUse, account: str, source_arn: str, encryption_context: dict[str, str]) -> dict[str, str]:
    """The request context a service sends for one use: only what the docs say it sends."""
    context: dict[str, str] = {}
    if "aws:SourceAccount" in row.sends:
        context["aws:SourceAccount"] = account
    if "aws:SourceArn" in row.sends:
        context["aws:SourceArn"] = source_arn
    for key, value in encryption_context.items():
        if key in row.context:
            context[f"kms:EncryptionContext:{key}"] = value
    return context
