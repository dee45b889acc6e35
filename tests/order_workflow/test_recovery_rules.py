"""Pure decisions of the recovery functions and the task wrapper's error names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from handlers.order_workflow import reaper, redrive, reserve, runtime
from handlers.order_workflow.reaper import ReaperSettings, verdict

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RULES = ReaperSettings(reap_after=timedelta(hours=1), max_auto_redrives=3)


@pytest.mark.parametrize(
    ("execution", "expected"),
    [
        ({"status": "FAILED", "redriveCount": 0, "redriveStatus": "REDRIVABLE"}, "redrive"),
        ({"status": "TIMED_OUT", "redriveCount": 2, "redriveStatus": "REDRIVABLE"}, "redrive"),
        ({"status": "FAILED", "redriveCount": 3, "redriveStatus": "REDRIVABLE"}, "abandon"),
        # Ended at a Fail state: a business outcome (declined, out of stock), nothing to resume.
        ({"status": "FAILED", "redriveCount": 0, "redriveStatus": "NOT_REDRIVABLE"}, "ignore"),
        ({"status": "RUNNING", "redriveCount": 1}, "ignore"),
    ],
)
def test_redrive_decision_is_bounded(execution: dict[str, Any], expected: str) -> None:
    assert redrive.decide(execution, max_redrives=3) == expected


def test_redrive_needs_its_bound_as_a_whole_number() -> None:
    with pytest.raises(runtime.SettingsError, match=r"/p/maxAutoRedrives is 'three'"):
        redrive.max_auto_redrives({"maxAutoRedrives": "three"}, "/p")


@pytest.mark.parametrize(
    ("execution", "expected"),
    [
        ({"status": "RUNNING"}, "keep"),
        # Redrives left: the redrive rule will still resume it.
        ({"status": "FAILED", "redriveCount": 1, "stopDate": NOW - timedelta(days=2)}, "keep"),
        # Out of redrives but inside the operators' window.
        ({"status": "FAILED", "redriveCount": 3, "stopDate": NOW - timedelta(minutes=59)}, "keep"),
        ({"status": "FAILED", "redriveCount": 3, "stopDate": NOW - timedelta(minutes=61)}, "reap"),
        ({"status": "ABORTED", "redriveCount": 0, "stopDate": NOW - timedelta(hours=2)}, "reap"),
    ],
)
def test_reaper_never_releases_what_a_redrive_can_still_resume(execution: dict[str, Any], expected: str) -> None:
    assert verdict({"orderId": "o"}, execution, NOW, RULES) == expected


def test_reaper_releases_an_order_whose_execution_is_gone_after_the_window() -> None:
    order = {"orderId": "o", "reservedAt": (NOW - timedelta(hours=2)).isoformat()}
    assert verdict(order, None, NOW, RULES) == "reap"
    assert verdict({**order, "reservedAt": NOW.isoformat()}, None, NOW, RULES) == "keep"


def test_reaper_settings_are_checked() -> None:
    with pytest.raises(runtime.SettingsError, match=r"/p/reapAfterSeconds is None"):
        ReaperSettings.load("/p", {"maxAutoRedrives": "3"})
    assert reaper.ReaperSettings.load("/p", {"maxAutoRedrives": "3", "reapAfterSeconds": "60"}) == ReaperSettings(
        timedelta(seconds=60), 3
    )


def test_a_task_input_without_order_id_is_a_named_error_not_a_key_error() -> None:
    with pytest.raises(runtime.MalformedTaskInput, match=r"task input needs a non-empty string orderId; got \[\]"):
        reserve.handler({}, None)


def _modeled(code: str) -> Exception:
    ddb = boto3.client("dynamodb", region_name="eu-west-1")
    return getattr(ddb.exceptions, code)({"Error": {"Code": code, "Message": "m"}}, "UpdateItem")


@pytest.mark.parametrize(
    ("code", "named"),
    [
        ("ProvisionedThroughputExceededException", runtime.StoreThrottled),
        ("ThrottlingException", runtime.StoreThrottled),
        ("RequestLimitExceeded", runtime.StoreThrottled),
        ("TransactionConflictException", runtime.InventoryContention),
    ],
)
def test_task_wrapper_names_dynamodbs_retryable_errors(
    code: str, named: type[Exception], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    @runtime.task
    def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise _modeled(code)

    with pytest.raises(named):
        failing({}, None)


def test_task_wrapper_leaves_other_errors_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    @runtime.task
    def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise _modeled("ResourceNotFoundException")

    with pytest.raises(Exception, match="ResourceNotFoundException"):
        failing({}, None)


def test_redrive_handler_redrives_once_per_count_and_counts_the_abandoned(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from botocore.stub import Stubber

    arn = "arn:aws:states:eu-west-1:123456789012:execution:platform-dev-orders-workflow:exec-1"
    sfn = boto3.client("stepfunctions", region_name="eu-west-1")
    monkeypatch.setenv("PARAMETERS_PATH", "/platform/dev/orders")
    monkeypatch.setattr(redrive, "load_parameters", lambda client, path: {"maxAutoRedrives": "2"})
    monkeypatch.setattr(runtime, "client", lambda service: sfn)
    described = {
        "executionArn": arn,
        "stateMachineArn": arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
        "status": "FAILED",
        "startDate": NOW,
        "redriveStatus": "REDRIVABLE",
    }
    event = {"detail-type": "Step Functions Execution Status Change", "detail": {"executionArn": arn}}
    with Stubber(sfn) as stub:
        stub.add_response("describe_execution", {**described, "redriveCount": 1}, {"executionArn": arn})
        stub.add_response(
            "redrive_execution", {"redriveDate": NOW}, {"executionArn": arn, "clientToken": "auto-redrive-2"}
        )
        assert redrive.handler(event, None)["decision"] == "redrive"
        stub.add_response("describe_execution", {**described, "redriveCount": 2}, {"executionArn": arn})
        assert redrive.handler(event, None)["decision"] == "abandon"
        stub.assert_no_pending_responses()
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [m["ExecutionsAbandoned"] for m in metrics] == [1]
    with pytest.raises(runtime.MalformedTaskInput, match=r"detail\.executionArn"):
        redrive.handler({"detail": {}}, None)
