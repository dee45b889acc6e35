"""Calls against grants: read what the handler tests recorded (recorder.py), turn each function's recorded calls
(plus what the Lambda service does with the function's role: logs, tracing, event sources, failure
destinations) into IAM requests against the plan's resources, and evaluate them against the role.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline.iam_eval import Decision, Request, action_matches, as_list, evaluate, statement_applies, statements
from tests.least_privilege.actions import Where, kms_requests, requests_for, takes_resources
from tests.least_privilege.plan_model import Function, PermissionModel, Role, component_name
from tests.least_privilege.recorder import RECORD_DIR_ENV, Record, RecordedCall, read_record

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"


@dataclass(frozen=True)
class Need:
    """One IAM request a function's role must allow, and why."""

    origin: str
    request: Request


@dataclass
class Verdict:
    role: Role
    subject: str
    missing: list[tuple[Need, Decision]] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    checked: list[Need] = field(default_factory=list)
    used: set[tuple[int, int, str]] = field(default_factory=set)  # (document, statement, action) grants used
    necessary: set[tuple[int, int, str]] = field(default_factory=set)  # the only grant allowing some request

    def failures(self) -> list[str]:
        """One line per request the role does not allow: subject, what needs it, the request, the decision."""
        return [
            f"{self.subject} (role {self.role.name}): {need.origin} needs {need.request.describe()}: {decision.value}"
            for need, decision in self.missing
        ]


# The local runs of the Glue entry scripts, whose object-store accesses the Glue check reads.
ENTRY_SCRIPT_TESTS = TESTS / "data_lake" / "test_entry_scripts.py"


def recorded_test_files() -> list[Path]:
    """The test files the checks read records of: those that run handler entry points (they import
    `handlers`; Spark tests excepted) and the local runs of the Glue entry scripts."""
    found = [ENTRY_SCRIPT_TESTS]
    for path in sorted(TESTS.rglob("test_*.py")):
        if "least_privilege" in path.parts:
            continue
        text = path.read_text()
        if re.search(r"^\s*(from|import) handlers\b", text, re.M) and "pyspark" not in text:
            found.append(path)
    return found


def record_of_this_run(recorded_tests: Iterable[str], timeout: float = 900) -> Record:
    """What the suite's own handler and entry-script tests recorded (see recorder.py), once all of them
    finished.

    The tests that read them are collected last (tests/conftest.py), so on any xdist worker the handler
    tests still running are other workers' and finish without waiting on this one."""
    directory = Path(os.environ[RECORD_DIR_ENV])
    waiting = set(recorded_tests)
    deadline = time.monotonic() + timeout
    while True:
        record = read_record(directory)
        waiting -= record.done
        if not waiting:
            return record
        if time.monotonic() > deadline:
            raise TimeoutError(f"recorded tests still unfinished after {timeout:.0f} s: {sorted(waiting)[:10]}")
        time.sleep(0.2)


def record_in_a_child_run() -> Record:
    """Run the recorded tests in a child pytest (when this run selected none of them) and read its record."""
    with tempfile.TemporaryDirectory() as record:
        env = {**os.environ, RECORD_DIR_ENV: record, "PYTHONPATH": str(ROOT)}
        # One process is enough and keeps the child light beside this run's workers.
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0"]
        command += list(map(str, recorded_test_files()))
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            raise RuntimeError(
                f"the handler tests failed under the recorder:\n{result.stdout[-4000:]}{result.stderr[-2000:]}"
            )
        return read_record(Path(record))


def _leaves(value: Any, path: str = "") -> dict[str, str]:
    """The string leaves of an environment value; JSON objects are compared leaf by leaf."""
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {path: value}
        if not isinstance(parsed, (dict, list)):
            return {path: value}
        value = parsed
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _leaves(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _leaves(item, f"{path}[{i}]").items()}
    return {path: str(value)}


def substitutions(test_env: Mapping[str, str], function: Function) -> dict[str, str]:
    """Test value -> deployed value for every setting the function's environment carries: the
    environment is how the component tells the code which resources it uses, so the same keys name the
    same resources in the test account and in the stack."""
    pairs: dict[str, str] = {}
    for key, deployed in function.environment.items():
        if key not in test_env:
            continue
        test_leaves, plan_leaves = _leaves(test_env[key], key), _leaves(deployed, key)
        for leaf, test_value in test_leaves.items():
            if leaf in plan_leaves and test_value and test_value != plan_leaves[leaf]:
                pairs[test_value] = plan_leaves[leaf]
    region = test_env.get("AWS_DEFAULT_REGION") or test_env.get("AWS_REGION")
    if region and region != function.region:
        pairs.setdefault(region, function.region)
    return pairs


def _translate(value: Any, pattern: re.Pattern[str] | None, pairs: Mapping[str, str]) -> Any:
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(lambda m: pairs[m.group(0)], value)
    if isinstance(value, dict):
        return {_translate(k, pattern, pairs): _translate(v, pattern, pairs) for k, v in value.items()}
    if isinstance(value, list):
        return [_translate(v, pattern, pairs) for v in value]
    return value


def _pattern(pairs: Mapping[str, str]) -> re.Pattern[str] | None:
    if not pairs:
        return None
    # One pass, longest first, whole path segments only: a table named `orders` must not rewrite the
    # `orders` inside the already-rewritten parameter path `/platform/dev/orders`.
    alternatives = "|".join(re.escape(k) for k in sorted(pairs, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
_STATES_ARN = re.compile(r"arn:aws:states:[^:]+:\d{12}:(stateMachine|execution|express):([^:]+)((?::[^:]+)*)")


def state_machines_of(function: Function, model: PermissionModel) -> list[str]:
    """The stack's state machines whose executions reach the function: those that invoke it (its ARN in
    their definition) and those whose events an EventBridge rule delivers to it (their ARN in the rule's
    pattern); for a function neither reaches (the scheduled reaper reads executions its table stored),
    those of its own component."""
    machines = model.resources(STATE_MACHINE)
    linked = {str(m.inputs.get("name")) for m in machines if function.arn in str(m.inputs.get("definition"))}
    arns = {str(m.inputs.get("name")): model.arn(m) for m in machines}
    rules = {
        str(target.inputs.get("rule"))
        for target in model.resources("aws:cloudwatch/eventTarget:EventTarget")
        if target.inputs.get("arn") == function.arn
    }
    for rule in model.resources("aws:cloudwatch/eventRule:EventRule"):
        if rule.inputs.get("name") in rules:
            linked |= {name for name, arn in arns.items() if arn and arn in str(rule.inputs.get("eventPattern"))}
    if not linked:
        linked = {str(m.inputs.get("name")) for m in machines if component_name(model.plan, m) == function.component}
    return sorted(linked)


def _states_resources(value: Any, function: Function, model: PermissionModel) -> Any:
    """Executions the handler learns from its event (`$$.Execution.Id`, a status-change event) name the
    test's state machines: in the stack they are executions of the state machine that reaches it."""
    linked = state_machines_of(function, model)
    known = {str(m.inputs.get("name")) for m in model.resources(STATE_MACHINE)}

    def rewrite(match: re.Match[str]) -> str:
        kind, name, rest = match.groups()
        if name not in known and len(linked) == 1:
            name = linked[0]
        return Where(function.region).arn("states", f"{kind}:{name}{rest}")

    if isinstance(value, str):
        return _STATES_ARN.sub(rewrite, value)
    if isinstance(value, dict):
        return {k: _states_resources(v, function, model) for k, v in value.items()}
    if isinstance(value, list):
        return [_states_resources(v, function, model) for v in value]
    return value


def call_needs(call: RecordedCall, function: Function, model: PermissionModel) -> list[Need]:
    pairs = substitutions(call.environment, function)
    pattern = _pattern(pairs)
    params = _translate(call.params, pattern, pairs)
    if call.service == "stepfunctions":
        params = _states_resources(params, function, model)
    region = _translate(call.region, pattern, pairs)
    where = Where(region)
    needs = []
    for request in requests_for(call.service, call.operation, params, where):
        needs.append(Need(f"{call.describe()}", request))
        needs.extend(
            Need(f"{call.describe()} (key of {request.resource})", k)
            for k in kms_requests(request, model.encrypted, where)
        )
    return needs


def runtime_needs(function: Function, model: PermissionModel) -> list[Need]:
    """What the Lambda service does with the function's role, from the function's configuration."""
    where = Where(function.region)
    group = function.log_group_name
    stream = where.arn("logs", f"log-group:{group}:log-stream:2026/11/27/[$LATEST]0123456789abcdef")
    needs = [
        Need("Lambda runtime: log stream", Request("logs:CreateLogStream", stream)),
        Need("Lambda runtime: log events", Request("logs:PutLogEvents", stream)),
    ]
    if function.inputs.get("kmsKeyArn"):
        key = model.key_arn(function.inputs["kmsKeyArn"]) or function.inputs["kmsKeyArn"]
        context = {"kms:EncryptionContext:LambdaFunctionName": function.name}
        needs.append(Need("Lambda runtime: environment variables", Request("kms:Decrypt", key, context)))
    if (function.inputs.get("tracingConfig") or {}).get("mode") == "Active":
        needs += [
            Need("Lambda runtime: X-Ray", Request(a, "*"))
            for a in ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
        ]
    dead_letter = (function.inputs.get("deadLetterConfig") or {}).get("targetArn")
    if dead_letter:
        needs += _send_to(dead_letter, "dead-letter queue", model, where)
    for mapping in model.resources("aws:lambda/eventSourceMapping:EventSourceMapping"):
        if mapping.inputs.get("functionName") not in (function.arn, function.name):
            continue
        needs += _event_source_needs(str(mapping.inputs["eventSourceArn"]), model, where)
        destination = ((mapping.inputs.get("destinationConfig") or {}).get("onFailure") or {}).get("destinationArn")
        if destination:
            needs += _send_to(destination, "event source on-failure destination", model, where)
    return needs


# What Lambda's event source mapping calls with the function's role (Lambda developer guide, per source):
# https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html#events-kinesis-permissions
# https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html#events-dynamodb-permissions
# https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html#events-sqs-permissions
EVENT_SOURCE_ACTIONS = {
    "kinesis": (
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
    ),
    "dynamodb": ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"),
    "sqs": ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
}


def _event_source_needs(source: str, model: PermissionModel, where: Where) -> list[Need]:
    service = source.split(":")[2]
    needs = []
    for action in EVENT_SOURCE_ACTIONS[service]:
        request = Request(action, source if takes_resources(action) else "*")
        needs.append(Need(f"event source mapping on {source}", request))
        if request.resource != "*":
            needs += [
                Need(f"event source mapping (key of {source})", k)
                for k in kms_requests(request, model.encrypted, where)
            ]
    return needs


# A failed batch's record as Lambda writes it to an S3 on-failure destination (Lambda developer guide,
# https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html: s3:PutObject and
# s3:ListBucket, and kms:GenerateDataKey when the bucket's key is a customer managed one).
S3_FAILURE_RECORD = "aws/lambda/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/shardId-000000000000/2026/11/27/record.json"


def _send_to(target: str, why: str, model: PermissionModel, where: Where) -> list[Need]:
    if target.startswith("arn:aws:s3:::"):
        requests = [Request("s3:PutObject", f"{target}/{S3_FAILURE_RECORD}"), Request("s3:ListBucket", target)]
    elif target.startswith("arn:aws:sqs:"):
        requests = [Request("sqs:SendMessage", target)]
    else:
        requests = [Request("sns:Publish", target)]
    needs = [Need(why, r) for r in requests]
    return needs + [Need(f"{why} (key)", k) for r in requests for k in kms_requests(r, model.encrypted, where)]


def verdict(role: Role, subject: str, needs: Sequence[Need]) -> Verdict:
    """Evaluate every need against the role's policies; list grants that no need used."""
    result = Verdict(role, subject)
    grants = [
        (d_index, s_index, statement)
        for d_index, (_, document) in enumerate(role.documents)
        for s_index, statement in enumerate(statements(document))
    ]
    seen: set[tuple[str, str, str]] = set()
    for need in needs:
        key = (need.request.action, need.request.resource, json.dumps(need.request.context, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        result.checked.append(need)
        decision = evaluate(role.policies, need.request)
        if decision is not Decision.ALLOWED:
            result.missing.append((need, decision))
            continue
        allowing = {
            (d_index, s_index, action)
            for d_index, s_index, statement in grants
            if statement.get("Effect") == "Allow" and statement_applies(statement, need.request)
            for action in as_list(statement.get("Action"))
            if action_matches([action], need.request.action)
        }
        result.used |= allowing
        if len(allowing) == 1:
            result.necessary |= allowing
    for d_index, s_index, statement in grants:
        if statement.get("Effect") != "Allow":
            continue
        for action in as_list(statement.get("Action")):
            grant = (d_index, s_index, action)
            if grant not in result.necessary:
                source = role.documents[d_index][0]
                sid = statement.get("Sid", "")
                resources = as_list(statement.get("Resource"))
                why = "redundant: other statements allow all its uses" if grant in result.used else "unused"
                result.unused.append(f"{role.name} [{source} #{s_index} {sid}] {action} on {resources} ({why})")
    return result


DeployedSettings = Mapping[str, Mapping[str, set[str]]]


def deployed_settings(models: Iterable[PermissionModel]) -> dict[str, dict[str, set[str]]]:
    """Handler -> environment key -> every value some shipped stack deploys it with."""
    settings: dict[str, dict[str, set[str]]] = {}
    for model in models:
        for function in model.functions:
            for key, value in function.environment.items():
                settings.setdefault(function.handler, {}).setdefault(key, set()).add(value)
    return settings


# Settings that choose which code paths a handler runs (not which resources it uses): a call recorded
# with another mode than the stack deploys does not happen in that stack.
MODE_SETTINGS = frozenset({"PAYMENT_INTEGRATION"})


def applies(call: RecordedCall, function: Function, settings: DeployedSettings) -> bool:
    """Does a recorded call happen in this stack? Not when the test configured the handler with a
    setting another stack deploys and this one leaves out (the RDS standby of a DR plan, where dev has
    no database), nor in another mode than this stack's (`PAYMENT_INTEGRATION=callback` in dev)."""
    for key in settings.get(function.handler, {}):
        if key not in call.environment:
            continue
        if key not in function.environment:
            return False
        if key in MODE_SETTINGS and call.environment[key] != function.environment[key]:
            return False
    return True


# What each function needs depends on the plan and the record, never on the role policies: computed once
# per (plan, record, function) and reused when only policies differ (the mutation proof's copies).
# The entries hold the plan and the record themselves, so their ids cannot be reused by other objects.
_NEEDS: dict[tuple[int, int, str], tuple[object, object, list[Need]]] = {}


def function_needs(
    model: PermissionModel, calls: Sequence[RecordedCall], settings: DeployedSettings, function: Function
) -> list[Need]:
    key = (id(model.plan), id(calls), function.logical)
    if key not in _NEEDS:
        needs = runtime_needs(function, model)
        for call in calls:
            if call.handler == function.handler and applies(call, function, settings):
                needs += call_needs(call, function, model)
        _NEEDS[key] = (model.plan, calls, needs)
    return _NEEDS[key][2]


def function_verdicts(
    model: PermissionModel, calls: Sequence[RecordedCall], settings: DeployedSettings
) -> dict[str, Verdict]:
    """Per plan function (by logical name): its role against its recorded calls and runtime needs."""
    return {
        function.logical: verdict(
            model.role_by_arn(function.role_arn), function.name, function_needs(model, calls, settings, function)
        )
        for function in model.functions
    }
