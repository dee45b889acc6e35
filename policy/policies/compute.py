"""Lambda, Step Functions and EventBridge: supported runtimes, owned log groups, no lost events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pulumi_policy import Severity

from .base import UNKNOWN, Guardrail, Rule, StackGuardrail, StackResource, Subject, get, is_set

FUNCTION = "aws:lambda/function:Function"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
INVOKE_CONFIG = "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig"
PERMISSION = "aws:lambda/permission:Permission"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
BUCKET_NOTIFICATION = "aws:s3/bucketNotification:BucketNotification"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"

# Python runtimes Lambda supports for new functions that meet the platform's 3.12+ floor.
SUPPORTED_RUNTIMES: frozenset[str] = frozenset({"python3.12", "python3.13", "python3.14"})
# Services that invoke Lambda asynchronously (their events are lost without a DLQ/destination).
ASYNC_PRINCIPALS: frozenset[str] = frozenset(
    {"events.amazonaws.com", "s3.amazonaws.com", "sns.amazonaws.com", "iot.amazonaws.com", "ses.amazonaws.com"}
)
STREAM_SERVICES = (":kinesis:", ":dynamodb:")
BATCH_SERVICES = (":kinesis:", ":dynamodb:", ":sqs:")


def check_runtime(subject: Subject) -> Iterable[str]:
    if subject.get("packageType") == "Image":
        return
    runtime = subject.get("runtime")
    if runtime is UNKNOWN:
        return
    if runtime not in SUPPORTED_RUNTIMES:
        yield f"runtime {runtime!r} is not a supported Python runtime ({', '.join(sorted(SUPPORTED_RUNTIMES))})"


def check_owned_log_group(subject: Subject) -> Iterable[str]:
    if not is_set(subject.get("loggingConfig", "logGroup")):
        yield (
            "the function logs to the implicit /aws/lambda group Lambda creates on first use, which has no "
            "retention and no customer key"
        )


def _source_service(subject: Subject) -> str | None:
    arn = subject.get("eventSourceArn")
    if isinstance(arn, str):
        for marker in BATCH_SERVICES:
            if marker in arn:
                return marker.strip(":")
        return "other"
    return None  # unknown until the source exists


def _is_stream_mapping(subject: Subject) -> bool:
    service = _source_service(subject)
    if service is None:
        # Only stream sources take a starting position.
        return is_set(subject.get("startingPosition"))
    return service in ("kinesis", "dynamodb")


def check_stream_failure_handling(subject: Subject) -> Iterable[str]:
    if not _is_stream_mapping(subject):
        return
    if not is_set(subject.get("destinationConfig", "onFailure", "destinationArn")):
        yield "stream mapping has no on-failure destination: records that keep failing are dropped unseen"
    retries = subject.get("maximumRetryAttempts")
    if retries is not UNKNOWN and (not isinstance(retries, (int, float)) or retries < 0):
        yield "stream mapping retries forever (maximumRetryAttempts unset or -1), blocking the shard"
    if subject.get("bisectBatchOnFunctionError") not in (True, UNKNOWN):
        yield "stream mapping does not bisect a failing batch to isolate the poison record"


def check_partial_batch_responses(subject: Subject) -> Iterable[str]:
    service = _source_service(subject)
    if service == "other":
        return
    types = subject.get("functionResponseTypes")
    if types is UNKNOWN:
        return
    if "ReportBatchItemFailures" not in (types or []):
        yield "mapping does not enable ReportBatchItemFailures, so one bad record fails and retries the whole batch"


def check_invoke_config_destination(subject: Subject) -> Iterable[str]:
    if not is_set(subject.get("destinationConfig", "onFailure", "destination")):
        yield "asynchronous invoke configuration has no on-failure destination"


def check_state_machine_logging(subject: Subject) -> Iterable[str]:
    level = subject.get("loggingConfiguration", "level")
    if level is not UNKNOWN and level not in ("ALL", "ERROR", "FATAL"):
        yield f"execution logging level is {level!r}; use ALL (or ERROR) with a log group destination"
    if not is_set(subject.get("loggingConfiguration", "logDestination")):
        yield "execution logging has no log group destination"


def check_state_machine_tracing(subject: Subject) -> Iterable[str]:
    if subject.get("tracingConfiguration", "enabled") not in (True, UNKNOWN):
        yield "X-Ray tracing is off"


def check_event_target(subject: Subject) -> Iterable[str]:
    if not is_set(subject.get("deadLetterConfig", "arn")):
        yield "target has no dead-letter queue: events EventBridge cannot deliver are dropped"
    retry = subject.get("retryPolicy")
    if retry is None:
        yield "target has no retry policy (attempts and maximum event age)"
    elif retry is not UNKNOWN:
        for key in ("maximumRetryAttempts", "maximumEventAgeInSeconds"):
            if not is_set(get(retry, key)):
                yield f"target retry policy does not set {key}"


# ---------------------------------------------------------------------------------------------
# Stack policy: asynchronously invoked functions have somewhere for failed events to go


def _function_names(function: Subject) -> set[str]:
    names = {function.name}
    for key in ("name", "arn"):
        value = function.get(key)
        if isinstance(value, str):
            names.add(value)
    return names


def _refers_to(
    reference: Any, referrer: StackResource, function: StackResource, functions: list[StackResource]
) -> bool:
    """A trigger or invoke config points at this function: by name/ARN, or (when the reference is not known
    yet) by depending on this function and no other."""
    if isinstance(reference, str):
        names = _function_names(function.subject)
        return reference in names or any(reference.endswith(f":function:{n}") for n in names)
    depended = [f for f in functions if f.subject.urn in referrer.dependencies]
    return depended == [function]


def _async_references(resource: StackResource) -> list[Any]:
    subject = resource.subject
    if subject.type == PERMISSION and subject.get("principal") in ASYNC_PRINCIPALS:
        return [subject.get("function")]
    if subject.type == EVENT_TARGET:
        arn = subject.get("arn")
        return [arn] if isinstance(arn, str) and ":lambda:" in arn else []
    if subject.type == BUCKET_NOTIFICATION:
        return [get(item, "lambdaFunctionArn") for item in subject.get("lambdaFunctions", default=[]) or []]
    if subject.type == SUBSCRIPTION and subject.get("protocol") == "lambda":
        return [subject.get("endpoint")]
    return []


def check_async_failure_destinations(resources: Sequence[StackResource]) -> Iterable[tuple[str, str]]:
    functions = [r for r in resources if r.subject.type == FUNCTION]
    triggers = [(r, ref) for r in resources for ref in _async_references(r)]
    invoke_configs = [r for r in resources if r.subject.type == INVOKE_CONFIG]
    for function in functions:
        sources = sorted({t.subject.name for t, ref in triggers if _refers_to(ref, t, function, functions)})
        if not sources or is_set(function.subject.get("deadLetterConfig", "targetArn")):
            continue
        if any(
            _refers_to(c.subject.get("functionName"), c, function, functions)
            and is_set(c.subject.get("destinationConfig", "onFailure", "destination"))
            for c in invoke_configs
        ):
            continue
        yield (
            function.subject.urn,
            f"function {function.subject.name} is invoked asynchronously by {', '.join(sources)} but has "
            "neither a dead-letter queue nor an on-failure destination",
        )


POLICIES = [
    Guardrail(
        Rule(
            "lambda-supported-python-runtime",
            "Lambda functions run a supported Python runtime (3.12 or newer).",
            "Use components.lambda_function.PythonFunction (python3.13, arm64) or set runtime='python3.13'.",
            tags=("lambda",),
        ),
        (FUNCTION,),
        check_runtime,
    ),
    Guardrail(
        Rule(
            "lambda-owned-log-group",
            "Lambda functions log to a log group the stack declares (so retention and KMS apply).",
            "Declare the log group with retention and kms_key_id and pass logging_config={'log_group': "
            "<group>.name, 'log_format': 'JSON'} (PythonFunction does this).",
            tags=("lambda", "logs"),
        ),
        (FUNCTION,),
        check_owned_log_group,
    ),
    Guardrail(
        Rule(
            "lambda-stream-failure-handling",
            "Stream event source mappings bisect failing batches, retry a bounded number of times and send "
            "what still fails to an on-failure destination.",
            "Set bisect_batch_on_function_error=True, maximum_retry_attempts=<n>, and destination_config="
            "{'on_failure': {'destination_arn': <SQS queue>.arn}} on aws.lambda_.EventSourceMapping.",
            tags=("lambda", "reliability"),
        ),
        (MAPPING,),
        check_stream_failure_handling,
    ),
    Guardrail(
        Rule(
            "lambda-partial-batch-responses",
            "Stream and queue event source mappings report batch item failures.",
            "Set function_response_types=['ReportBatchItemFailures'] and return batchItemFailures from the "
            "handler (handlers/common/batch.py).",
            tags=("lambda", "reliability"),
        ),
        (MAPPING,),
        check_partial_batch_responses,
    ),
    Guardrail(
        Rule(
            "lambda-async-invoke-failure-destination",
            "Asynchronous invoke configurations send failed events to an on-failure destination.",
            "Set destination_config={'on_failure': {'destination': <SQS queue or SNS topic>.arn}}.",
            tags=("lambda", "reliability"),
        ),
        (INVOKE_CONFIG,),
        check_invoke_config_destination,
    ),
    Guardrail(
        Rule(
            "sfn-execution-logging",
            "Step Functions state machines log executions to a log group.",
            "Set logging_configuration={'level': 'ALL', 'include_execution_data': True, 'log_destination': "
            "pulumi.Output.concat(<log group>.arn, ':*')}.",
            tags=("stepfunctions", "observability"),
        ),
        (STATE_MACHINE,),
        check_state_machine_logging,
    ),
    Guardrail(
        Rule(
            "sfn-tracing",
            "Step Functions state machines have X-Ray tracing on.",
            "Set tracing_configuration={'enabled': True}.",
            severity=Severity.MEDIUM,
            tags=("stepfunctions", "observability"),
        ),
        (STATE_MACHINE,),
        check_state_machine_tracing,
    ),
    Guardrail(
        Rule(
            "eventbridge-target-dlq-and-retry",
            "Every EventBridge target has a dead-letter queue and a retry policy.",
            "Set dead_letter_config={'arn': <SQS queue>.arn} and retry_policy={'maximum_retry_attempts': <n>, "
            "'maximum_event_age_in_seconds': <s>} on aws.cloudwatch.EventTarget; the queue policy must let "
            "events.amazonaws.com send to it.",
            tags=("eventbridge", "reliability"),
        ),
        (EVENT_TARGET,),
        check_event_target,
    ),
]

STACK_POLICIES = [
    StackGuardrail(
        Rule(
            "lambda-async-sources-failure-destination",
            "Functions invoked asynchronously (EventBridge, S3, SNS) have a DLQ or an on-failure destination.",
            "Pass dead_letter_arn to FunctionSpec, or declare aws.lambda_.FunctionEventInvokeConfig with an "
            "on-failure destination for the function.",
            tags=("lambda", "reliability"),
        ),
        check_async_failure_destinations,
    ),
]
