"""Data stores and logs: customer-managed encryption everywhere, point-in-time recovery, log retention."""

from __future__ import annotations

from collections.abc import Iterable

from pulumi_policy import Severity

from .base import UNKNOWN, Guardrail, Rule, Subject, customer_key_problem

TABLE = "aws:dynamodb/table:Table"
STREAM = "aws:kinesis/stream:Stream"
QUEUE = "aws:sqs/queue:Queue"
TOPIC = "aws:sns/topic:Topic"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
PARAMETER = "aws:ssm/parameter:Parameter"


def check_table_pitr(subject: Subject) -> Iterable[str]:
    enabled = subject.get("pointInTimeRecovery", "enabled")
    if enabled is not UNKNOWN and enabled is not True:
        yield "point-in-time recovery is off"


def check_table_kms(subject: Subject) -> Iterable[str]:
    enabled = subject.get("serverSideEncryption", "enabled")
    if enabled is not UNKNOWN and enabled is not True:
        yield "server-side encryption with a customer-managed key is off (the table uses an AWS owned key)"
        return
    problem = customer_key_problem(subject.get("serverSideEncryption", "kmsKeyArn"), "DynamoDB")
    if problem:
        yield problem


def check_stream_kms(subject: Subject) -> Iterable[str]:
    encryption = subject.get("encryptionType")
    if encryption is not UNKNOWN and encryption != "KMS":
        yield f"encryptionType is {encryption!r}; records must be encrypted with KMS"
        return
    problem = customer_key_problem(subject.get("kmsKeyId"), "Kinesis")
    if problem:
        yield problem


def check_key_property(property_name: str, service: str):
    def check(subject: Subject) -> Iterable[str]:
        problem = customer_key_problem(subject.get(property_name), service)
        if problem:
            yield problem

    check.__name__ = f"check_{service.lower()}_kms"
    return check


def check_log_group_retention(subject: Subject) -> Iterable[str]:
    days = subject.get("retentionInDays")
    if days is UNKNOWN:
        return
    if not isinstance(days, (int, float)) or days <= 0:
        yield "no retention is set, so the log group keeps every event forever"


def check_secure_parameter_key(subject: Subject) -> Iterable[str]:
    if subject.get("type") != "SecureString":
        return
    problem = customer_key_problem(subject.get("keyId"), "SSM")
    if problem:
        yield problem


POLICIES = [
    Guardrail(
        Rule(
            "dynamodb-point-in-time-recovery",
            "DynamoDB tables have point-in-time recovery on.",
            "Set point_in_time_recovery={'enabled': True} on aws.dynamodb.Table.",
            tags=("dynamodb", "recovery"),
        ),
        (TABLE,),
        check_table_pitr,
    ),
    Guardrail(
        Rule(
            "dynamodb-encryption-customer-key",
            "DynamoDB tables encrypt with a customer-managed KMS key.",
            "Set server_side_encryption={'enabled': True, 'kms_key_arn': <CustomerManagedKey>.arn}.",
            tags=("dynamodb", "encryption"),
        ),
        (TABLE,),
        check_table_kms,
    ),
    Guardrail(
        Rule(
            "kinesis-encryption-customer-key",
            "Kinesis streams encrypt records with a customer-managed KMS key.",
            "Set encryption_type='KMS' and kms_key_id=<CustomerManagedKey>.arn on aws.kinesis.Stream.",
            tags=("kinesis", "encryption"),
        ),
        (STREAM,),
        check_stream_kms,
    ),
    Guardrail(
        Rule(
            "sqs-encryption-customer-key",
            "SQS queues encrypt messages with a customer-managed KMS key (not SQS-managed SSE).",
            "Set kms_master_key_id=<CustomerManagedKey>.arn on aws.sqs.Queue; the key policy must let the "
            "producing service (e.g. events, sns) use it.",
            tags=("sqs", "encryption"),
        ),
        (QUEUE,),
        check_key_property("kmsMasterKeyId", "SQS"),
    ),
    Guardrail(
        Rule(
            "sns-encryption-customer-key",
            "SNS topics encrypt messages with a customer-managed KMS key.",
            "Set kms_master_key_id=<CustomerManagedKey>.arn on aws.sns.Topic; allow the publishing services "
            "in the key policy.",
            tags=("sns", "encryption"),
        ),
        (TOPIC,),
        check_key_property("kmsMasterKeyId", "SNS"),
    ),
    Guardrail(
        Rule(
            "log-group-encryption-customer-key",
            "CloudWatch log groups encrypt with a customer-managed KMS key.",
            "Set kms_key_id=<CustomerManagedKey>.arn (a key created with services=['logs']).",
            tags=("logs", "encryption"),
        ),
        (LOG_GROUP,),
        check_key_property("kmsKeyId", "CloudWatch Logs"),
    ),
    Guardrail(
        Rule(
            "log-group-retention",
            "CloudWatch log groups have a retention period.",
            "Set retention_in_days (the stack's logRetentionDays unless the component documents another).",
            severity=Severity.MEDIUM,
            tags=("logs", "cost"),
        ),
        (LOG_GROUP,),
        check_log_group_retention,
    ),
    Guardrail(
        Rule(
            "ssm-secure-string-customer-key",
            "SSM SecureString parameters encrypt with a customer-managed KMS key.",
            "Pass key_id=<CustomerManagedKey>.arn (RuntimeParameters does this for its secrets).",
            tags=("ssm", "encryption"),
        ),
        (PARAMETER,),
        check_secure_parameter_key,
    ),
]
