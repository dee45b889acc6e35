"""The ASL documents in the repo and their deploy-time rendering."""

from __future__ import annotations

import json

import pytest

from components.order_workflow.definition import load_definition, placeholders, render_definition


def test_variants_differ_only_in_the_payment_task() -> None:
    direct, callback, http = load_definition("direct"), load_definition("callback"), load_definition("direct-http")
    assert direct["States"].keys() == callback["States"].keys()
    differing = [name for name in direct["States"] if direct["States"][name] != callback["States"][name]]
    assert differing == ["ProcessPayment"]
    # The HTTP gateway's charge is the HTTP Task itself, and RecordPayment keeps its answer.
    assert http["States"].keys() - direct["States"].keys() == {"RecordPayment"}
    assert [n for n in direct["States"] if direct["States"][n] != http["States"][n]] == ["ProcessPayment"]


def test_http_task_charges_with_the_connection_and_retries_only_what_a_gateway_may_answer_again() -> None:
    payment = load_definition("direct-http")["States"]["ProcessPayment"]
    assert payment["Resource"] == "arn:aws:states:::http:invoke"
    assert payment["Parameters"]["Authentication"] == {"ConnectionArn": "${GatewayConnectionArn}"}
    assert payment["Parameters"]["Headers"]["Idempotency-Key.$"] == "$.order.orderId"
    assert "paymentToken" not in json.dumps(payment) and "paymentReference.$" in json.dumps(payment)
    [retry] = payment["Retry"]
    assert set(retry["ErrorEquals"]) == {
        "States.Http.StatusCode.429", "States.Http.StatusCode.500", "States.Http.StatusCode.502",
        "States.Http.StatusCode.503", "States.Http.StatusCode.504", "States.Http.Socket",
    }  # fmt: skip
    assert retry["JitterStrategy"] == "FULL" and "Catch" not in payment
    assert payment["Next"] == "RecordPayment"


BUSINESS_OUTCOMES = {"DuplicateOrder", "InvalidOrder", "OrderConflict", "ReservationRejected", "FulfilmentFailed"}
LAMBDA_SERVICE_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


VARIANTS = ["direct", "callback", "direct-http"]


def _tasks(integration: str) -> dict[str, dict]:
    """The Lambda tasks (the HTTP Task has its own retries, checked above)."""
    return {
        n: s
        for n, s in load_definition(integration)["States"].items()
        if s["Type"] == "Task" and s["Resource"].startswith("arn:aws:states:::lambda:")
    }


@pytest.mark.parametrize("integration", VARIANTS)
def test_only_business_outcomes_are_caught_so_infrastructure_failures_stay_redrivable(integration: str) -> None:
    # A Catch into a Fail state ends the execution at the Fail state, which RedriveExecution cannot resume.
    for name, task in _tasks(integration).items():
        for catch in task.get("Catch", []):
            assert set(catch["ErrorEquals"]) <= BUSINESS_OUTCOMES, (name, catch["ErrorEquals"])
    document = json.dumps(load_definition(integration))
    assert "States.ALL" not in document and "States.TaskFailed" not in document
    # Compensation is never caught: a release or refund that cannot finish fails where it stands.
    tasks = _tasks(integration)
    assert "Catch" not in tasks["ReleaseInventory"] and "Catch" not in tasks["RefundPayment"]


@pytest.mark.parametrize("integration", VARIANTS)
def test_every_task_retries_lambda_throttling_and_transaction_conflicts(integration: str) -> None:
    for name, task in _tasks(integration).items():
        by_error = {error: rule for rule in task["Retry"] for error in rule["ErrorEquals"]}
        service = by_error["Lambda.ServiceException"]
        assert service["ErrorEquals"] == LAMBDA_SERVICE_ERRORS, name
        assert (service["IntervalSeconds"], service["MaxAttempts"], service["JitterStrategy"]) == (2, 6, "FULL"), name
        assert service["MaxDelaySeconds"] <= 60, name
        # Every task is idempotent per order, so an invocation of unknown outcome is retried too.
        assert "Lambda.Unknown" in by_error, name
        for named in ("StoreThrottled", "InventoryContention"):
            assert by_error[named]["MaxAttempts"] >= 3 and by_error[named]["JitterStrategy"] == "FULL", (name, named)


@pytest.mark.parametrize("integration", VARIANTS)
def test_every_path_that_fails_after_a_capture_refunds_then_releases(integration: str) -> None:
    states = load_definition(integration)["States"]
    assert [c["Next"] for c in states["FulfilOrder"]["Catch"]] == ["RefundPayment"]
    assert states["RefundPayment"]["Next"] == "ReleaseInventory"
    # A decline captured nothing: straight to the release.
    assert states["PaymentCaptured?"]["Default"] == "ReleaseInventory"
    # Nothing but the two paths above reaches the compensation.
    sources = {
        name
        for name, state in states.items()
        for target in [state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Catch", []))]
        + [c["Next"] for c in state.get("Choices", [])]
        if target in ("RefundPayment", "ReleaseInventory")
    }
    assert sources == {"FulfilOrder", "RefundPayment", "PaymentCaptured?"}


def test_direct_payment_retries_transient_gateway_errors_with_backoff() -> None:
    assert _tasks("direct")["ProcessPayment"]["Retry"][0] == {
        "ErrorEquals": ["TransientPaymentError"],
        "IntervalSeconds": 2,
        "MaxAttempts": 4,
        "BackoffRate": 2,
        "MaxDelaySeconds": 20,
        "JitterStrategy": "FULL",
    }


def test_rendering_substitutes_typed_values_and_refuses_drift() -> None:
    document = load_definition("callback")
    values = {name: f"arn:aws:lambda:eu-west-1:123456789012:function:{name}" for name in placeholders(document)}
    values |= {"PaymentHeartbeatSeconds": 30, "PaymentTimeoutSeconds": 600}
    rendered = json.loads(render_definition("callback", values))
    assert rendered["States"]["ProcessPayment"]["TimeoutSeconds"] == 600
    assert "${" not in json.dumps(rendered)
    with pytest.raises(ValueError, match=r"placeholders without values \['PaymentTimeoutSeconds'\]"):
        render_definition("callback", {k: v for k, v in values.items() if k != "PaymentTimeoutSeconds"})
    with pytest.raises(ValueError, match=r"values without placeholders \['Extra'\]"):
        render_definition("callback", {**values, "Extra": 1})


@pytest.mark.parametrize("integration", ["direct", "callback"])
def test_payment_task_retries_an_event_the_bus_refused_instead_of_releasing(integration: str) -> None:
    # The payment task publishes (Payment Completed / Payment Requested) after its idempotent write; a
    # refused PutEvents entry is transient, and catching it would release a paid order's stock.
    retry = load_definition(integration)["States"]["ProcessPayment"]["Retry"]
    publish = [r for r in retry if "EventPublishError" in r["ErrorEquals"]]
    assert len(publish) == 1 and publish[0]["MaxAttempts"] >= 3 and publish[0]["JitterStrategy"] == "FULL"
