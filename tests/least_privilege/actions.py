"""From an AWS API call to the IAM requests AWS authorises for it: action, resource ARN(s), and the
KMS requests behind each encrypted resource it reads or writes.

The IAM prefix of a service is botocore's signing name; which resource types an action takes comes
from policy_sentry's copy of the Service Authorization Reference, so an action that takes no
resource (`dynamodb:ListStreams`, `states:SendTaskSuccess`) is asked for `*`, as AWS does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from policy_sentry.querying.actions import get_action_data

from offline.iam_eval import Request
from offline.mocks import ACCOUNT_ID

# Operations whose IAM action is not `<prefix>:<Operation>` (Service Authorization Reference).
ACTION_OF_OPERATION: dict[tuple[str, str], tuple[str, ...]] = {
    ("s3", "ListObjectsV2"): ("s3:ListBucket",),
    ("s3", "ListObjects"): ("s3:ListBucket",),
    ("s3", "HeadObject"): ("s3:GetObject",),
    ("s3", "HeadBucket"): ("s3:ListBucket",),
    ("s3", "DeleteObjects"): ("s3:DeleteObject",),
    ("s3", "CreateMultipartUpload"): ("s3:PutObject",),
    ("s3", "UploadPart"): ("s3:PutObject",),
    ("s3", "CompleteMultipartUpload"): ("s3:PutObject",),
    ("lambda", "Invoke"): ("lambda:InvokeFunction",),
}

# DynamoDB transactions are authorised per item with the item's own action.
_TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


class MappingError(LookupError):
    """A call this module cannot turn into IAM requests: extend the tables here."""


@dataclass(frozen=True)
class Where:
    region: str
    account: str = ACCOUNT_ID

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


@cache
def iam_prefix(service: str) -> str:
    model = botocore.session.get_session().get_service_model(service)
    return model.signing_name or model.endpoint_prefix


@cache
def arn_formats(action: str) -> tuple[str, ...]:
    """The ARN formats an action takes; `("*",)` when it takes no resource."""
    prefix, name = action.split(":", 1)
    try:
        rows = get_action_data(prefix, name)[prefix]
    except (KeyError, TypeError) as error:
        raise MappingError(f"{action} is not an IAM action in the Service Authorization Reference") from error
    if not rows:
        raise MappingError(f"{action} is not an IAM action in the Service Authorization Reference")
    return tuple(sorted({row["resource_arn_format"] for row in rows}))


_WIDE_PLACEHOLDERS = re.compile(r"ObjectName|LogGroupName|LogStreamName|ParameterName|Path|RelativeId")


@cache
def _format_regex(arn_format: str) -> re.Pattern[str]:
    parts = re.split(r"(\$\{[^}]+\})", arn_format)
    regex = "".join(
        (".+" if _WIDE_PLACEHOLDERS.search(p) else "[^/:]+") if p.startswith("${") else re.escape(p) for p in parts
    )
    return re.compile(f"^{regex}$")


def fits(arn: str, action: str) -> bool:
    return any(f != "*" and _format_regex(f).match(arn) for f in arn_formats(action))


def takes_resources(action: str) -> bool:
    return any(f != "*" for f in arn_formats(action))


def actions_of(service: str, operation: str, params: Mapping[str, Any]) -> tuple[str, ...]:
    if service == "dynamodb" and operation == "TransactWriteItems":
        kinds = {next(iter(item)) for item in params.get("TransactItems", [])}
        return tuple(sorted(f"dynamodb:{_TRANSACT_ITEM_ACTIONS[k]}" for k in kinds))
    if service == "dynamodb" and operation == "TransactGetItems":
        return ("dynamodb:GetItem",)
    return ACTION_OF_OPERATION.get((service, operation), (f"{iam_prefix(service)}:{operation}",))


def _queue_arn(url: str, where: Where) -> str:
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{where.region}:{account}:{name}"


def _named(where: Where, service: str, kind: str, value: str) -> str:
    return value if value.startswith("arn:") else where.arn(service, f"{kind}{value}")


def candidate_resources(prefix: str, params: Mapping[str, Any], where: Where) -> Iterator[str]:
    """Every ARN the parameters name; the action's ARN formats pick the ones it is authorised on."""
    p = params
    if prefix == "dynamodb":
        tables = [p[k] for k in ("TableName",) if k in p]
        tables += list((p.get("RequestItems") or {}).keys())
        for item in p.get("TransactItems", []):
            tables += [body["TableName"] for body in item.values()]
        for table in tables:
            arn = _named(where, "dynamodb", "table/", table)
            yield f"{arn}/index/{p['IndexName']}" if p.get("IndexName") else arn
        if "StreamArn" in p:
            yield p["StreamArn"]
    elif prefix == "events":
        buses = [p["EventBusName"]] if "EventBusName" in p else []
        buses += [entry.get("EventBusName") or "default" for entry in p.get("Entries", [])]
        for bus in buses:
            yield _named(where, "events", "event-bus/", bus)
    elif prefix == "sqs":
        if "QueueUrl" in p:
            yield _queue_arn(p["QueueUrl"], where)
    elif prefix == "sns":
        for key in ("TopicArn", "TargetArn"):
            if key in p:
                yield p[key]
    elif prefix == "ssm":
        names = [p[k] for k in ("Name", "Path") if k in p] + list(p.get("Names", []))
        for name in names:
            yield where.arn("ssm", f"parameter/{name.lstrip('/')}")
    elif prefix == "s3":
        if "Bucket" in p:
            yield f"arn:aws:s3:::{p['Bucket']}"
            if "Key" in p:
                yield f"arn:aws:s3:::{p['Bucket']}/{p['Key']}"
            for obj in (p.get("Delete") or {}).get("Objects", []):
                yield f"arn:aws:s3:::{p['Bucket']}/{obj['Key']}"
    elif prefix == "glue":
        if "Name" in p:
            yield where.arn("glue", f"crawler/{p['Name']}")
        if "JobName" in p:
            yield where.arn("glue", f"job/{p['JobName']}")
        if "DatabaseName" in p:
            yield where.arn("glue", "catalog")
            yield where.arn("glue", f"database/{p['DatabaseName']}")
            if "TableName" in p:
                yield where.arn("glue", f"table/{p['DatabaseName']}/{p['TableName']}")
    elif prefix == "states":
        for key in ("stateMachineArn", "executionArn"):
            if key in p:
                yield p[key]
    elif prefix == "backup":
        for key in ("BackupVaultName", "ByBackupVaultName"):
            if key in p:
                yield _named(where, "backup", "backup-vault:", p[key])
        if "RecoveryPointArn" in p:
            yield p["RecoveryPointArn"]
    elif prefix == "rds":
        for key in ("DBInstanceIdentifier", "DBClusterIdentifier"):
            if key in p:
                kind = "db:" if key == "DBInstanceIdentifier" else "cluster:"
                yield _named(where, "rds", kind, p[key])
    elif prefix == "sagemaker":
        if "EndpointName" in p:
            yield _named(where, "sagemaker", "endpoint/", p["EndpointName"].lower())
    elif prefix == "firehose":
        if "DeliveryStreamName" in p:
            yield where.arn("firehose", f"deliverystream/{p['DeliveryStreamName']}")
    elif prefix == "kinesis":
        if "StreamARN" in p:
            yield p["StreamARN"]
        elif "StreamName" in p:
            yield where.arn("kinesis", f"stream/{p['StreamName']}")
    elif prefix == "lambda":
        if "FunctionName" in p:
            yield _named(where, "lambda", "function:", p["FunctionName"])
    elif prefix == "kms" and "KeyId" in p:
        yield _named(where, "kms", "key/", p["KeyId"])


def requests_for(service: str, operation: str, params: Mapping[str, Any], where: Where) -> list[Request]:
    """The IAM requests one API call needs (without the KMS ones: see `kms_requests`)."""
    requests: list[Request] = []
    prefix = iam_prefix(service)
    candidates = list(dict.fromkeys(candidate_resources(prefix, params, where)))
    for action in actions_of(service, operation, params):
        if not takes_resources(action):
            requests.append(Request(action, "*"))
            continue
        fitting = [arn for arn in candidates if fits(arn, action)]
        if not fitting:
            raise MappingError(
                f"{service}.{operation}: no resource ARN for {action} (formats {arn_formats(action)}) "
                f"from parameters {sorted(params)}: extend tests/least_privilege/actions.py"
            )
        requests.extend(Request(action, arn) for arn in fitting)
    return requests


# The KMS requests a caller makes through a service on a resource encrypted with a customer managed key:
# (IAM action of the call) -> KMS actions, per the service's KMS page linked in conditions.SERVICE_KEY_USE.
KMS_ACTIONS_OF: dict[str, tuple[str, ...]] = {
    "sqs:SendMessage": ("kms:GenerateDataKey", "kms:Decrypt"),
    "sqs:ReceiveMessage": ("kms:Decrypt",),
    "sns:Publish": ("kms:GenerateDataKey", "kms:Decrypt"),
    "s3:PutObject": ("kms:GenerateDataKey",),
    "s3:GetObject": ("kms:Decrypt",),
    "kinesis:PutRecord": ("kms:GenerateDataKey",),
    "kinesis:PutRecords": ("kms:GenerateDataKey",),
    "kinesis:GetRecords": ("kms:Decrypt",),
    "ssm:GetParameter": ("kms:Decrypt",),
    "ssm:GetParameters": ("kms:Decrypt",),
    "ssm:GetParametersByPath": ("kms:Decrypt",),
}
_DYNAMODB_DATA = re.compile(
    r"^dynamodb:(GetItem|PutItem|UpdateItem|DeleteItem|Query|Scan|BatchGetItem|BatchWriteItem|ConditionCheckItem|GetRecords)$"
)


def _encryption_context(resource: str, where: Where) -> dict[str, str]:
    service = resource.split(":")[2]
    if service == "dynamodb":
        table = resource.split(":", 5)[5].split("/")[1]
        return {
            "kms:EncryptionContext:aws:dynamodb:tableName": table,
            "kms:EncryptionContext:aws:dynamodb:subscriberId": where.account,
        }
    key = {
        "sqs": "aws:sqs:arn",
        "sns": "aws:sns:topicArn",
        "kinesis": "aws:kinesis:arn",
        "s3": "aws:s3:arn",
        "ssm": "PARAMETER_ARN",
    }.get(service)
    return {f"kms:EncryptionContext:{key}": resource} if key else {}


def encrypted_resource_of(resource: str) -> str:
    """The resource whose key encrypts what a request touches (a table for its index, a bucket for an object)."""
    if resource.startswith("arn:aws:dynamodb:") and "/index/" in resource:
        return resource.split("/index/")[0]
    if resource.startswith("arn:aws:s3:::"):
        return "arn:aws:s3:::" + resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
    return resource


def kms_requests(request: Request, key_of: Mapping[str, str], where: Where) -> list[Request]:
    """The KMS requests the caller itself makes (through the service) for one request."""
    resource = encrypted_resource_of(request.resource)
    key = key_of.get(resource)
    if key is None:
        return []
    actions = KMS_ACTIONS_OF.get(request.action) or (("kms:Decrypt",) if _DYNAMODB_DATA.match(request.action) else ())
    service = resource.split(":")[2]
    context = {
        "kms:ViaService": f"{service}.{where.region}.amazonaws.com",
        "kms:CallerAccount": where.account,
        **_encryption_context(resource, where),
    }
    return [Request(action, key, context) for action in actions]
