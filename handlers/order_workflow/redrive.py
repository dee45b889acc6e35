"""Automatic redrive: an execution that failed or timed out at a task is redriven, up to a bound.

Step Functions sends `Execution Status Change` (FAILED / TIMED_OUT) to the default bus; a rule
invokes this function. Infrastructure errors that outlasted a task's retries end the execution at
that task (no Catch), so RedriveExecution resumes it there, with what it already did kept. Past
`maxAutoRedrives` (or when the execution cannot be redriven, e.g. it ended at a business outcome)
it is left alone and counted as `ExecutionsAbandoned` (EMF metric, alarmed); an operator may still
redrive it, and the reaper releases its stock after the operators' window.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from handlers.common.log import get_logger
from handlers.common.metrics import function_dimensions, put_metrics
from handlers.common.params import load_parameters
from handlers.order_workflow import runtime

log = get_logger(__name__)
Decision = Literal["redrive", "abandon", "ignore"]
NOT_REDRIVABLE = "NOT_REDRIVABLE"


def decide(execution: Mapping[str, Any], max_redrives: int) -> Decision:
    """Pure decision on DescribeExecution of the stopped execution."""
    if execution["status"] not in ("FAILED", "TIMED_OUT"):
        return "ignore"  # redriven meanwhile, or succeeded
    if execution.get("redriveStatus") == NOT_REDRIVABLE:
        return "ignore"  # ended at a Fail state (a business outcome), or past Step Functions' own limits
    return "redrive" if int(execution.get("redriveCount", 0)) < max_redrives else "abandon"


def max_auto_redrives(parameters: Mapping[str, str], path: str) -> int:
    raw = parameters.get("maxAutoRedrives", "")
    if not raw.isdigit():
        raise runtime.SettingsError(f"{path}/maxAutoRedrives is {raw!r}; expected a whole number")
    return int(raw)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    detail = event.get("detail") if isinstance(event, dict) else None
    arn = detail.get("executionArn") if isinstance(detail, dict) else None
    if not isinstance(arn, str) or not arn:
        raise runtime.MalformedTaskInput(f"Execution Status Change without detail.executionArn: {sorted(event)}")
    path = os.environ["PARAMETERS_PATH"]
    bound = max_auto_redrives(load_parameters(runtime.client("ssm"), path), path)
    sfn = runtime.client("stepfunctions")
    execution = sfn.describe_execution(executionArn=arn)
    decision = decide(execution, bound)
    if decision == "redrive":
        count = int(execution.get("redriveCount", 0))
        # The token makes a redelivered event redrive once per count, not twice.
        sfn.redrive_execution(executionArn=arn, clientToken=f"auto-redrive-{count + 1}")
    elif decision == "abandon":
        put_metrics({"ExecutionsAbandoned": 1}, dimensions=function_dimensions(), properties={"executionArn": arn})
    log.info("redrive decision", extra={"executionArn": arn, "decision": decision, "bound": bound})
    return {"executionArn": arn, "decision": decision}
