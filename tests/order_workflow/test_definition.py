"""The ASL documents in the repo and their deploy-time rendering."""

from __future__ import annotations

import json

import pytest

from components.order_workflow.definition import load_definition, placeholders, render_definition


def test_variants_differ_only_in_the_payment_task() -> None:
    direct, callback = load_definition("direct"), load_definition("callback")
    assert direct["States"].keys() == callback["States"].keys()
    differing = [name for name in direct["States"] if direct["States"][name] != callback["States"][name]]
    assert differing == ["ProcessPayment"]


def test_every_path_after_a_reservation_that_does_not_complete_releases_it() -> None:
    states = load_definition("direct")["States"]
    for task in ("ReserveInventory", "ProcessPayment", "FulfilOrder"):
        assert [c["Next"] for c in states[task]["Catch"]] == ["ReleaseInventory"], task
    assert states["PaymentCaptured?"]["Default"] == "ReleaseInventory"
    assert states["ProcessPayment"]["Retry"][0] == {
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
