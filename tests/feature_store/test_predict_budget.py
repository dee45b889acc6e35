"""Predict's worst case fits inside the timeouts the component gives it (read from the real plan).

Worst case: every attempt of every AWS call waits out its connect and read timeouts, and botocore
sleeps its longest throttling backoff between attempts. That must end, with the handler's own
503/502, before the Lambda timeout and the API integration timeout cut the caller off with a 500/504.
"""

from __future__ import annotations

from typing import Any

import pytest

from handlers.feature_store.predict import FEATURE_READ, MODEL_INVOKE
from offline.runner import PlanGraph

COMPONENT_TYPE = "platform:index:FeatureStorePipeline"
# Handler work around the calls (parse, serialise, log) and the Lambda runtime's own overhead.
HANDLER_OVERHEAD_SECONDS = 1.0


def _predict_timeouts(plan: PlanGraph) -> tuple[float, float]:
    """(function timeout, API integration timeout) in seconds, as planned."""
    inside = list(plan.descendants(plan.one(COMPONENT_TYPE)))
    functions = [
        r
        for r in inside
        if r.type == "aws:lambda/function:Function"
        and "ENDPOINT_NAME" in ((r.inputs.get("environment") or {}).get("variables") or {})
    ]
    integrations = [r for r in inside if r.type == "aws:apigatewayv2/integration:Integration"]
    assert len(functions) == 1 and len(integrations) == 1
    return float(functions[0].inputs["timeout"]), integrations[0].inputs["timeoutMilliseconds"] / 1000


def predict_worst_case_seconds() -> float:
    return FEATURE_READ.worst_case_seconds() + MODEL_INVOKE.worst_case_seconds() + HANDLER_OVERHEAD_SECONDS


@pytest.mark.parametrize("plan_fixture", ["dev_plan", "prod_plan"])
def test_predict_worst_case_ends_before_the_function_and_api_timeouts(request: Any, plan_fixture: str) -> None:
    function_timeout, api_timeout = _predict_timeouts(request.getfixturevalue(plan_fixture))
    assert predict_worst_case_seconds() < min(function_timeout, api_timeout), (
        f"predict can take {predict_worst_case_seconds()} s, function timeout {function_timeout} s, "
        f"API integration timeout {api_timeout} s"
    )


def test_worst_case_counts_every_attempt_timeout_and_backoff() -> None:
    # Feature read: 2 attempts x (0.5 + 1.0) s + one backoff of at most 1 s; model: 1 x (1 + 8) s.
    assert FEATURE_READ.worst_case_seconds() == 4.0
    assert MODEL_INVOKE.worst_case_seconds() == 9.0
    assert predict_worst_case_seconds() == 14.0
