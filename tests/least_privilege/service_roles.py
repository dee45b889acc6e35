"""(2) Roles that AWS services assume: what each service calls with the role, from the plan.

- State machines: each Task's integration ARN -> IAM actions on the resource its parameters name
  (https://docs.aws.amazon.com/step-functions/latest/dg/service-integration-iam-templates.html), plus
  execution data encryption, log delivery and X-Ray.
- EventBridge targets with a role: the target's API (StartExecution, PutEvents, SendMessage ...).
- Glue jobs and crawlers: the object-store accesses their entry scripts made in their local runs
  (recorded by tests/least_privilege/glue_io.py) plus what Glue itself does for a job (script, temp
  dir, Spark UI logs, continuous logs, metrics, encrypted bookmarks) and the crawlers' documented calls.
- S3 replication roles: the replication calls of the bucket's replication configuration.
- Cluster add-ons (IRSA roles in Helm values): what each chart's controller calls (documented list).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from offline.iam_eval import Request
from offline.mocks import RecordedResource
from tests.least_privilege.actions import MappingError, Where, kms_requests, requests_for
from tests.least_privilege.grants import Need, Verdict, verdict
from tests.least_privilege.plan_model import PermissionModel, arn_region
from tests.least_privilege.recorder import GlueAccess

# --- Step Functions ---------------------------------------------------------------------------------

# Optimised integrations whose API call is not `<service>:<Action>` alone (Step Functions developer
# guide, "IAM policies for integrated services"): the `.sync` pattern also polls and stops the job.
SYNC_EXTRA_OPERATIONS = {
    "glue:startJobRun": ("GetJobRun", "GetJobRuns", "BatchStopJobRun"),
    "ecs:runTask": ("StopTask", "DescribeTasks"),
    "batch:submitJob": ("DescribeJobs", "TerminateJob"),
}
SDK_SERVICE = {"states": "stepfunctions", "sfn": "stepfunctions"}


Items = Mapping[str, list[Any]]  # JSONPath in a Map iteration's input -> every value it takes


def _plan_lists(definition: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Literal lists Pass states put on the execution's state (`$.key`), e.g. the crawlers to run."""
    lists: dict[str, list[Any]] = {}
    for state in definition.get("States", {}).values():
        if state.get("Type") == "Pass":
            for key, value in (state.get("Parameters") or state.get("Result") or {}).items():
                if isinstance(value, (list, str)) and not key.endswith(".$"):
                    lists[f"$.{key}"] = value
    return lists


def _map_items(state: Mapping[str, Any], lists: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """What a Map state's iterations see: `ItemSelector` fields set from `$$.Map.Item.Value` of a known list."""
    values = lists.get(str(state.get("ItemsPath")))
    if not isinstance(values, list):
        return {}
    selector = state.get("ItemSelector") or state.get("Parameters") or {}
    return {f"$.{k.removesuffix('.$')}": values for k, v in selector.items() if v == "$$.Map.Item.Value"}


def _states(
    definition: Mapping[str, Any], items: Items | None = None
) -> Iterator[tuple[str, Mapping[str, Any], Items]]:
    items = items or {}
    lists = {**_plan_lists(definition), **items}
    for name, state in definition.get("States", {}).items():
        yield name, state, items
        for branch in state.get("Branches", []):
            yield from _states(branch, lists)  # every branch gets the state's input
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _states(state[key], _map_items(state, lists))


def _static(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters with a fixed value; a resource named by a JSONPath (`Key.$`) is not checkable."""
    return {k: v for k, v in parameters.items() if not k.endswith(".$")}


# The one execution name the check substitutes for `$$.Execution.Name` (the console's default form).
EXAMPLE_EXECUTION_NAME = "0f3c2a9e-5b1d-4e8f-9a7c-1d2e3f4a5b6c"
_FORMAT = re.compile(r"^States\.Format\('([^']*)',\s*(.*)\)$")


def _values(path: str, items: Items) -> list[Any] | None:
    """Every value a JSONPath (or a States.Format of known paths) takes; None when not known."""
    if path == "$$.Execution.Name":
        return [EXAMPLE_EXECUTION_NAME]
    if path in items:
        value = items[path]
        return value if isinstance(value, list) else [value]
    match = _FORMAT.match(path)
    if match is None:
        return None
    texts = [match.group(1)]
    for argument in (a.strip() for a in match.group(2).split(",")):
        values = _values(argument, items)
        if values is None:
            return None
        texts = [text.replace("{}", str(v), 1) for text in texts for v in values]
    return texts


def _expand(parameters: Mapping[str, Any], items: Items) -> list[dict[str, Any]]:
    """One parameter set per value the JSONPath parameters take, when the definition fixes them."""
    expanded = [_static(parameters)]
    for key, path in parameters.items():
        values = _values(path, items) if key.endswith(".$") and isinstance(path, str) else None
        if values is not None:
            expanded = [{**p, key.removesuffix(".$"): v} for p in expanded for v in values]
    return expanded


def task_calls(
    resource: str, parameters: Mapping[str, Any], items: Items | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """(botocore service, operation, parameters) the service makes for one Task state."""
    if resource.startswith("arn:aws:lambda:"):
        return [("lambda", "Invoke", {"FunctionName": resource})]
    if not resource.startswith("arn:aws:states:::"):
        raise MappingError(f"Task resource {resource} is not a service integration this check knows")
    integration = resource.removeprefix("arn:aws:states:::").split(".")[0]
    if integration.startswith("aws-sdk:"):
        _, service, action = integration.split(":")
    else:
        service, action = integration.split(":")
    service = SDK_SERVICE.get(service, service)
    operation = action[0].upper() + action[1:]
    calls = []
    for params in _expand(parameters, items or {}):
        calls.append((service, operation, params))
        if resource.endswith(".sync") or ".sync:" in resource:
            calls += [(service, extra, params) for extra in SYNC_EXTRA_OPERATIONS.get(integration, ())]
    return calls


def state_machine_verdicts(model: PermissionModel) -> list[Verdict]:
    verdicts = []
    for machine in model.resources("aws:sfn/stateMachine:StateMachine"):
        arn, where = model.arn(machine), Where(arn_region(model.arn(machine)))
        definition = machine.inputs["definition"]
        definition = json.loads(definition) if isinstance(definition, str) else definition
        needs: list[Need] = []
        for name, state, items in _states(definition):
            if state.get("Type") != "Task":
                continue
            parameters = state.get("Parameters") or state.get("Arguments") or {}
            for service, operation, params in task_calls(state["Resource"], parameters, items):
                for request in requests_for(service, operation, params, where):
                    needs.append(Need(f"Task {name} ({state['Resource']})", request))
                    needs += [Need(f"Task {name} (key)", k) for k in kms_requests(request, model.encrypted, where)]
        needs += _execution_needs(model, machine, arn, where)
        role = model.role_by_arn(str(machine.inputs["roleArn"]))
        verdicts.append(verdict(role, f"state machine {arn.rsplit(':', 1)[-1]}", needs))
    return verdicts


# Log delivery of vended logs: https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html#cloudwatch-iam-policy
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)


def _execution_needs(model: PermissionModel, machine: RecordedResource, arn: str, where: Where) -> list[Need]:
    needs: list[Need] = []
    key = model.key_of(arn)
    if key:
        # https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html
        context = {"kms:EncryptionContext:aws:states:stateMachineArn": arn}
        needs += [
            Need("execution data (state machine key)", Request(a, key, context))
            for a in ("kms:GenerateDataKey", "kms:Decrypt")
        ]
    logging = machine.inputs.get("loggingConfiguration") or {}
    if logging.get("logDestination"):
        needs += [Need("execution logs delivery", Request(a, "*")) for a in LOG_DELIVERY_ACTIONS]
        group_arn = str(logging["logDestination"]).removesuffix(":*")
        log_key = model.key_of(group_arn)
        if log_key:
            # Same page, "Encrypting logs": the role makes the data key under the logs context.
            context = {"kms:EncryptionContext:SourceArn": f"arn:aws:logs:{where.region}:{where.account}:*"}
            needs.append(Need(f"execution logs (key of {group_arn})", Request("kms:GenerateDataKey", log_key, context)))
    if (machine.inputs.get("tracingConfiguration") or {}).get("enabled"):
        needs += [
            Need("X-Ray tracing", Request(a, "*"))
            for a in (
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            )
        ]
    return needs


# --- EventBridge targets ----------------------------------------------------------------------------

# What EventBridge calls on a target with the target's role (EventBridge user guide, "Targets").
TARGET_CALLS = {
    "states": ("stepfunctions", "StartExecution", "stateMachineArn"),
    "events": ("events", "PutEvents", "EventBusName"),
    "sqs": ("sqs", "SendMessage", "QueueUrl"),
    "sns": ("sns", "Publish", "TopicArn"),
    "kinesis": ("kinesis", "PutRecord", "StreamARN"),
    "firehose": ("firehose", "PutRecord", "DeliveryStreamName"),
    "lambda": ("lambda", "Invoke", "FunctionName"),
}


def _queue_url(arn: str) -> str:
    _, _, _, region, account, name = arn.split(":")
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


@dataclass(frozen=True)
class RoleTarget:
    """A target an EventBridge rule or an EventBridge Scheduler schedule calls with a role."""

    source: str
    arn: str
    role_arn: str
    dead_letter_arn: str | None = None  # a schedule's: Scheduler sends dead letters with the role
    input_key: str | None = None  # a schedule's: Scheduler decrypts the target input with the role


def role_targets(model: PermissionModel) -> Iterator[RoleTarget]:
    for target in model.resources("aws:cloudwatch/eventTarget:EventTarget"):
        if target.inputs.get("roleArn"):
            yield RoleTarget(
                f"rule {target.inputs.get('rule')}", str(target.inputs["arn"]), str(target.inputs["roleArn"])
            )
    # https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html (execution role)
    for schedule in model.resources("aws:scheduler/schedule:Schedule"):
        target = schedule.inputs["target"]
        yield RoleTarget(
            f"schedule {schedule.inputs.get('name')}",
            str(target["arn"]),
            str(target["roleArn"]),
            (target.get("deadLetterConfig") or {}).get("arn"),
            schedule.inputs.get("kmsKeyArn"),
        )


def event_target_verdicts(model: PermissionModel) -> list[Verdict]:
    by_role: dict[str, list[Need]] = {}
    for target in role_targets(model):
        arn = target.arn
        where = Where(arn_region(arn))
        needs = by_role.setdefault(target.role_arn, [])
        if target.dead_letter_arn:
            send = Request("sqs:SendMessage", target.dead_letter_arn)
            needs.append(Need(f"{target.source}: dead letters", send))
            needs += [Need(f"{target.source}: dead-letter key", k) for k in kms_requests(send, model.encrypted, where)]
        if target.input_key:
            key = model.key_arn(target.input_key) or target.input_key
            needs.append(Need(f"{target.source}: encrypted target input", Request("kms:Decrypt", key)))
        if arn.split(":")[5].startswith("api-destination/"):
            # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html (IAM role)
            invoke = Request("events:InvokeApiDestination", arn)
            needs.append(Need(f"{target.source} -> {arn}", invoke))
            continue
        service, operation, key = TARGET_CALLS[arn.split(":")[2]]
        value = _queue_url(arn) if key == "QueueUrl" else arn.rsplit("/", 1)[-1] if key == "DeliveryStreamName" else arn
        for request in requests_for(
            service,
            operation,
            {key: value, "Entries": [{"EventBusName": arn}]} if service == "events" else {key: value},
            where,
        ):
            needs.append(Need(f"{target.source} -> {arn}", request))
            needs += [Need(f"target key of {arn}", k) for k in kms_requests(request, model.encrypted, where)]
            if request.action == "states:StartExecution" and model.key_of(arn):
                context = {"kms:EncryptionContext:aws:states:stateMachineArn": arn}
                needs.append(
                    Need(
                        "execution input (state machine key)",
                        Request("kms:GenerateDataKey", model.key_of(arn) or "", context),
                    )
                )
    return [
        verdict(model.role_by_arn(role), f"EventBridge targets of {role.rsplit('/', 1)[-1]}", needs)
        for role, needs in by_role.items()
    ]


# --- Glue jobs and crawlers -------------------------------------------------------------------------


def _s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class _GlueNeeds:
    def __init__(self, model: PermissionModel, where: Where, bookmark_key: str | None) -> None:
        self.model, self.where, self.bookmark_key = model, where, bookmark_key
        self.needs: list[Need] = []

    def add(self, why: str, request: Request) -> None:
        self.needs.append(Need(why, request))
        self.needs += [Need(f"{why} (key)", k) for k in kms_requests(request, self.model.encrypted, self.where)]

    def read_prefix(self, why: str, bucket: str, prefix: str) -> None:
        self.add(why, Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix}))
        self.add(why, Request("s3:GetObject", f"arn:aws:s3:::{bucket}/{prefix}part-00000"))

    def write_prefix(self, why: str, bucket: str, prefix: str, *, delete: bool = True) -> None:
        self.add(why, Request("s3:PutObject", f"arn:aws:s3:::{bucket}/{prefix}part-00000"))
        if delete:
            self.add(why, Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": prefix}))
            self.add(why, Request("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{prefix}part-00000"))

    def catalog(self, why: str, actions: tuple[str, ...], database: str, table: str) -> None:
        for action in actions:
            for resource in ("catalog", f"database/{database}", f"table/{database}/{table}"):
                self.add(why, Request(action, self.where.arn("glue", resource)))

    def logs(
        self, why: str, group: str, actions: tuple[str, ...] = ("logs:CreateLogStream", "logs:PutLogEvents")
    ) -> None:
        for action in actions:
            resource = (
                f"log-group:{group}" if action == "logs:CreateLogGroup" else f"log-group:{group}:log-stream:run-1"
            )
            self.add(why, Request(action, self.where.arn("logs", resource)))


def _security_configuration(model: PermissionModel, name: str | None) -> Mapping[str, Any]:
    for config in model.resources("aws:glue/securityConfiguration:SecurityConfiguration"):
        if config.inputs.get("name") == name:
            return config.inputs.get("encryptionConfiguration") or {}
    return {}


def _crawled_location(model: PermissionModel, table: str) -> tuple[str, str] | None:
    for crawler in model.resources("aws:glue/crawler:Crawler"):
        for target in crawler.inputs.get("s3Targets") or []:
            bucket, prefix = _s3(target["path"])
            if (crawler.inputs.get("tablePrefix") or "") + prefix.rstrip("/").rsplit("/", 1)[-1] == table:
                return bucket, prefix
    return None


def script_of(job: RecordedResource) -> str:
    return str(job.inputs["command"]["scriptLocation"]).rsplit("/", 1)[-1]


def _access_needs(g: _GlueNeeds, name: str, args: Mapping[str, str], access: GlueAccess) -> None:
    """The S3 requests behind one recorded access, in the bucket the deployed job's argument names."""
    bucket, why = args[access.argument], f"job {name}: {access.operation} {access.key} ({access.argument})"
    if access.operation == "read":
        g.read_prefix(why, bucket, access.key)
    elif access.operation == "overwrite":  # Spark lists, writes and deletes the partitions it replaces
        g.read_prefix(why, bucket, access.key)
        g.write_prefix(why, bucket, access.key)
    elif access.operation == "delete":
        g.add(why, Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": access.key}))
        g.add(why, Request("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{access.key}part-00000"))
    elif access.operation == "put":
        g.add(why, Request("s3:PutObject", f"arn:aws:s3:::{bucket}/{access.key}"))
    else:
        raise ValueError(f"unknown Glue access {access}")


def _job_needs(model: PermissionModel, job: RecordedResource, accesses: Sequence[GlueAccess]) -> list[Need]:
    where = Where(arn_region(model.arn(job)))
    args: Mapping[str, str] = job.inputs.get("defaultArguments") or {}
    encryption = _security_configuration(model, job.inputs.get("securityConfiguration"))
    bookmarks = encryption.get("jobBookmarksEncryption") or {}
    g = _GlueNeeds(model, where, model.key_arn(bookmarks.get("kmsKeyArn")))
    name = str(job.inputs["name"])
    script = str(job.inputs["command"]["scriptLocation"])
    for uri in [script, *filter(None, args.get("--extra-py-files", "").split(","))]:
        bucket, key = _s3(uri)
        g.add(f"job {name}: script {uri}", Request("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"))
    for arg in ("--TempDir", "--spark-event-logs-path"):
        if arg in args:
            bucket, prefix = _s3(args[arg])
            g.write_prefix(f"job {name}: {arg}", bucket, prefix, delete=arg == "--TempDir")
    if args.get("--enable-continuous-cloudwatch-log") == "true":
        prefix = args.get("--custom-logGroup-prefix", "/aws-glue/jobs")
        for stream in ("output", "error"):
            g.logs(f"job {name}: continuous logs", f"{prefix}/{stream}")
    if args.get("--enable-metrics") == "true":
        g.add(f"job {name}: metrics", Request("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Glue"}))
    if (
        args.get("--job-bookmark-option") == "job-bookmark-enable"
        and bookmarks.get("jobBookmarksEncryptionMode") == "CSE-KMS"
    ):
        # https://docs.aws.amazon.com/glue/latest/dg/console-security-configurations.html (job bookmarks, CSE-KMS)
        for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"):
            g.add(
                f"job {name}: encrypted job bookmark",
                Request(action, g.bookmark_key or str(bookmarks.get("kmsKeyArn"))),
            )
    for access in accesses:
        if access.script == script_of(job):
            _access_needs(g, name, args, access)
    return g.needs


# https://docs.aws.amazon.com/glue/latest/dg/crawler-prereqs.html
CRAWLER_CATALOG_ACTIONS = (
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:BatchCreatePartition",
)


def _crawler_needs(model: PermissionModel, crawler: RecordedResource) -> list[Need]:
    g = _GlueNeeds(model, Where(arn_region(model.arn(crawler))), None)
    name = str(crawler.inputs["name"])
    for target in crawler.inputs.get("s3Targets") or []:
        bucket, prefix = _s3(target["path"])
        g.read_prefix(f"crawler {name}", bucket, prefix)
        table = (crawler.inputs.get("tablePrefix") or "") + prefix.rstrip("/").rsplit("/", 1)[-1]
        g.catalog(f"crawler {name}", CRAWLER_CATALOG_ACTIONS, str(crawler.inputs["databaseName"]), table)
    group = _crawler_log_group(model, crawler)
    declared = any(str(lg.inputs.get("name")) == group for lg in model.resources("aws:cloudwatch/logGroup:LogGroup"))
    actions = ("logs:CreateLogStream", "logs:PutLogEvents")
    g.logs(f"crawler {name}", group, actions if declared else ("logs:CreateLogGroup", *actions))
    return g.needs


def _crawler_log_group(model: PermissionModel, crawler: RecordedResource) -> str:
    """Where a crawler logs: with CloudWatch encryption in its security configuration, a group named after its
    role (path included) and the configuration (https://docs.aws.amazon.com/glue/latest/dg/encryption-security-configuration.html);
    otherwise the shared /aws-glue/crawlers."""
    configuration = crawler.inputs.get("securityConfiguration")
    for config in model.resources("aws:glue/securityConfiguration:SecurityConfiguration"):
        if configuration and str(config.inputs.get("name")) == str(configuration):
            cloudwatch = (config.inputs.get("encryptionConfiguration") or {}).get("cloudwatchEncryption") or {}
            if cloudwatch.get("cloudwatchEncryptionMode") == "SSE-KMS":
                role = str(crawler.inputs["role"]).split(":role/", 1)[1]
                return f"/aws-glue/crawlers-role/{role}-{configuration}"
    return "/aws-glue/crawlers"


def glue_verdicts(model: PermissionModel, accesses: Sequence[GlueAccess]) -> list[Verdict]:
    """Each Glue role against its jobs (the object-store accesses their entry scripts made in their local
    runs, plus what Glue does for the job: script, temp dir, logs, metrics, bookmarks) and crawlers."""
    by_role: dict[str, list[Need]] = {}
    for job in model.resources("aws:glue/job:Job"):
        by_role.setdefault(str(job.inputs["roleArn"]), []).extend(_job_needs(model, job, accesses))
    for crawler in model.resources("aws:glue/crawler:Crawler"):
        by_role.setdefault(str(crawler.inputs["role"]), []).extend(_crawler_needs(model, crawler))
    return [
        verdict(model.role_by_arn(role), f"Glue jobs and crawlers of {role.rsplit('/', 1)[-1]}", needs)
        for role, needs in by_role.items()
    ]


# --- S3 replication ---------------------------------------------------------------------------------


def replication_verdicts(model: PermissionModel) -> list[Verdict]:
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html"""
    verdicts = []
    for config in model.resources("aws:s3/bucketReplicationConfig:BucketReplicationConfig"):
        source = f"arn:aws:s3:::{config.inputs['bucket']}"
        needs = [
            Need("replication: read configuration", Request("s3:GetReplicationConfiguration", source)),
            Need("replication: list source", Request("s3:ListBucket", source)),
        ]
        source_key = model.key_of(source)
        for rule in config.inputs.get("rules") or []:
            destination = rule["destination"]["bucket"]
            for action in ("s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"):
                needs.append(Need(f"replication rule {rule.get('id')}", Request(action, f"{source}/data/object")))
            for action in ("s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"):
                needs.append(Need(f"replication rule {rule.get('id')}", Request(action, f"{destination}/data/object")))
            if source_key:
                context = {
                    "kms:ViaService": f"s3.{arn_region(source_key)}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": f"{source}/data/object",
                }
                needs.append(Need("replication: decrypt source objects", Request("kms:Decrypt", source_key, context)))
            replica_key = model.key_arn(
                (rule["destination"].get("encryptionConfiguration") or {}).get("replicaKmsKeyId")
            )
            if replica_key:
                context = {
                    "kms:ViaService": f"s3.{arn_region(replica_key)}.amazonaws.com",
                    "kms:EncryptionContext:aws:s3:arn": f"{destination}/data/object",
                }
                needs += [
                    Need("replication: encrypt replicas", Request(a, replica_key, context))
                    for a in ("kms:Encrypt", "kms:GenerateDataKey")
                ]
        verdicts.append(verdict(model.role_by_arn(str(config.inputs["role"])), f"S3 replication of {source}", needs))
    return verdicts


# --- Cluster add-ons (IRSA) -------------------------------------------------------------------------


def _addon_roles(model: PermissionModel) -> Iterator[tuple[str, RecordedResource, str]]:
    for release in model.resources("kubernetes:helm.sh/v3:Release"):
        account = (release.inputs.get("values") or {}).get("serviceAccount") or {}
        role_arn = (account.get("annotations") or {}).get("eks.amazonaws.com/role-arn")
        if role_arn:
            yield str(release.inputs.get("chart")), release, str(role_arn)


def _eso_needs(model: PermissionModel, release: RecordedResource) -> list[Need]:
    """External Secrets' AWS provider reads each referenced secret with GetSecretValue and, for its
    metadata, DescribeSecret (https://external-secrets.io/latest/provider/aws-secrets-manager/)."""
    needs = []
    for external in model.resources("kubernetes:external-secrets.io/v1:ExternalSecret"):
        spec = external.inputs.get("spec") or {}
        keys = [d["remoteRef"]["key"] for d in spec.get("data") or []]
        keys += [d["extract"]["key"] for d in spec.get("dataFrom") or [] if "extract" in d]
        for store in model.resources("kubernetes:external-secrets.io/v1:ClusterSecretStore"):
            region = store.inputs["spec"]["provider"]["aws"]["region"]
            for key in keys:
                # Secrets Manager appends `-` and six random characters to every secret ARN.
                arn = Where(region).arn("secretsmanager", f"secret:{key}-AbCdEf")
                needs += [
                    Need(f"ExternalSecret {external.name}", Request(a, arn))
                    for a in ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")
                ]
    return needs


def _load_balancer_controller_needs(model: PermissionModel, release: RecordedResource) -> list[Need]:
    """The calls the AWS Load Balancer Controller makes to reconcile an Ingress into an ALB, with the
    tags it puts on what it creates; from its reference policy
    (https://github.com/kubernetes-sigs/aws-load-balancer-controller/blob/main/docs/install/iam_policy.json)."""
    values = release.inputs.get("values") or {}
    cluster, vpc = str(values["clusterName"]), str(values.get("vpcId"))
    where = Where(model.region)
    tag = {"aws:RequestTag/elbv2.k8s.aws/cluster": cluster}
    owned = {"aws:ResourceTag/elbv2.k8s.aws/cluster": cluster}
    lb = where.arn("elasticloadbalancing", "loadbalancer/app/k8s-default-web/lb-id")
    tg = where.arn("elasticloadbalancing", "targetgroup/k8s-default-web/tg-id")
    listener = where.arn("elasticloadbalancing", "listener/app/k8s-default-web/lb-id/listener-id")
    sg = where.arn("ec2", "security-group/sg-0123456789abcdef0")
    vpc_arn = where.arn("ec2", f"vpc/{vpc}")
    calls = [
        Request(
            "iam:CreateServiceLinkedRole",
            f"arn:aws:iam::{where.account}:role/aws-service-role/elasticloadbalancing.amazonaws.com/AWSServiceRoleForElasticLoadBalancing",
            {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"},
        ),
        *(
            Request(a, "*")
            for a in (
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcs",
                "ec2:DescribeInstances",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeTags",
                "elasticloadbalancing:DescribeLoadBalancers",
                "elasticloadbalancing:DescribeLoadBalancerAttributes",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetGroupAttributes",
                "elasticloadbalancing:DescribeTargetHealth",
                "acm:ListCertificates",
            )
        ),
        Request("ec2:CreateSecurityGroup", sg, tag),
        Request("ec2:CreateSecurityGroup", vpc_arn, tag),
        Request("ec2:CreateTags", sg, {**tag, "ec2:CreateAction": "CreateSecurityGroup"}),
        Request("ec2:AuthorizeSecurityGroupIngress", sg, {"ec2:Vpc": vpc_arn, **owned}),
        Request("ec2:DeleteSecurityGroup", sg, owned),
        Request("elasticloadbalancing:CreateLoadBalancer", lb, tag),
        Request("elasticloadbalancing:CreateTargetGroup", tg, tag),
        Request("elasticloadbalancing:AddTags", lb, {**tag, "elasticloadbalancing:CreateAction": "CreateLoadBalancer"}),
        Request("elasticloadbalancing:ModifyLoadBalancerAttributes", lb, owned),
        Request("elasticloadbalancing:DeleteLoadBalancer", lb, owned),
        Request("elasticloadbalancing:CreateListener", lb),
        Request("elasticloadbalancing:RegisterTargets", tg),
        Request("elasticloadbalancing:DeregisterTargets", tg),
        Request("elasticloadbalancing:ModifyListener", listener),
    ]
    return [Need("AWS Load Balancer Controller reconciling an Ingress", r) for r in calls]


# Chart -> what its controller calls with the role its service account is annotated with.
ADDON_CALLS = {
    "external-secrets": _eso_needs,
    "aws-load-balancer-controller": _load_balancer_controller_needs,
}


def addon_verdicts(model: PermissionModel) -> list[Verdict]:
    verdicts = []
    for chart, release, role_arn in _addon_roles(model):
        if chart not in ADDON_CALLS:
            raise MappingError(f"chart {chart} runs with role {role_arn}: document what it calls in ADDON_CALLS")
        verdicts.append(
            verdict(
                model.role_by_arn(role_arn),
                f"{chart} (Helm release {release.name})",
                ADDON_CALLS[chart](model, release),
            )
        )
    return verdicts


# The checks that need nothing but the plan; the Glue check also reads the entry scripts' local runs.
ALL_SERVICE_CHECKS = (
    state_machine_verdicts,
    event_target_verdicts,
    replication_verdicts,
    addon_verdicts,
)


def service_verdicts(model: PermissionModel, glue_io: Sequence[GlueAccess]) -> list[Verdict]:
    """Every role an AWS service or add-on assumes, against what it calls."""
    return [v for check in ALL_SERVICE_CHECKS for v in check(model)] + glue_verdicts(model, glue_io)
