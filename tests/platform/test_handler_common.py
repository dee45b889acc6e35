"""handlers/common: the pieces every Lambda shares, against moto where they call AWS."""

from __future__ import annotations

import io
import json
import logging
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from handlers.common import aws, dynamo, metrics, params
from handlers.common.batch import batch_response, record_id
from handlers.common.jsonutil import dumps, loads
from handlers.common.log import get_logger


def test_batch_response_reports_each_failed_item_once_in_order() -> None:
    assert batch_response(["3", "1", "3", "", "2"]) == {
        "batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "1"}, {"itemIdentifier": "2"}]
    }
    assert batch_response([]) == {"batchItemFailures": []}


def test_record_id_for_every_batch_source() -> None:
    assert record_id({"kinesis": {"sequenceNumber": "495"}}) == "495"
    assert record_id({"dynamodb": {"SequenceNumber": "111"}}) == "111"
    assert record_id({"messageId": "m-1"}) == "m-1"
    with pytest.raises(ValueError, match="neither Kinesis"):
        record_id({"body": "x"})


def test_json_round_trip_keeps_exact_numbers_for_dynamodb() -> None:
    parsed = loads('{"price": 19.99, "qty": 3, "tags": ["a"]}')
    assert parsed == {"price": Decimal("19.99"), "qty": 3, "tags": ["a"]}
    assert json.loads(dumps({"price": Decimal("19.99"), "qty": Decimal("3"), "s": {"b", "a"}, "raw": b"\x00\x01"})) == {
        "price": 19.99,
        "qty": 3,
        "s": ["a", "b"],
        "raw": "AAE=",
    }


@mock_aws
def test_parameters_are_read_by_path_across_pages_decrypted_and_cached() -> None:
    ssm = boto3.client("ssm", region_name="eu-west-1")
    for i in range(12):  # more than one GetParametersByPath page (10)
        ssm.put_parameter(Name=f"/platform/dev/orders/key{i:02d}", Value=f"v{i}", Type="String")
    ssm.put_parameter(Name="/platform/dev/orders/apiToken", Value="t0ps3cret", Type="SecureString")
    ssm.put_parameter(Name="/platform/dev/other/leak", Value="x", Type="String")
    params._CACHE.clear()
    values = params.load_parameters(ssm, "/platform/dev/orders/", now=0.0)
    assert len(values) == 13
    assert values["key11"] == "v11" and values["apiToken"] == "t0ps3cret"
    assert "leak" not in values
    ssm.put_parameter(Name="/platform/dev/orders/key00", Value="changed", Type="String", Overwrite=True)
    assert params.load_parameters(ssm, "/platform/dev/orders", now=60.0)["key00"] == "v0"
    assert params.load_parameters(ssm, "/platform/dev/orders", now=301.0)["key00"] == "changed"


def test_logger_writes_one_json_object_per_line_with_extra_fields(capsys, monkeypatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_LOG_FORMAT", raising=False)
    logger = get_logger("tests.common.local")
    logger.info("batch done", extra={"records": 3, "failed": ["1"]})
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["message"] == "batch done" and line["level"] == "INFO"
    assert line["records"] == 3 and line["failed"] == ["1"]


def test_logger_hands_records_to_the_lambda_runtime_when_it_formats_json(monkeypatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_LOG_FORMAT", "JSON")
    logger = get_logger("tests.common.in_lambda")
    assert logger.handlers == [] and logger.propagate is True
    assert logger.level == logging.INFO


# --- one client policy (handlers/common/aws.py) and one serialiser (handlers/common/dynamo.py) ------


def test_call_policy_configures_standard_retries_timeouts_and_pool() -> None:
    policy = aws.CallPolicy(attempts=3, connect_timeout=0.5, read_timeout=2.0, pool_size=24)
    config = policy.config()
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert (config.connect_timeout, config.read_timeout, config.max_pool_connections) == (0.5, 2.0, 24)
    # Two throttling backoffs (at most 1 s, then 2 s) between three attempts of 2.5 s each.
    assert policy.worst_backoff_seconds() == 3.0
    assert policy.worst_case_seconds() == 3 * 2.5 + 3.0
    assert aws.CallPolicy(attempts=1, connect_timeout=1, read_timeout=1).worst_backoff_seconds() == 0
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        aws.CallPolicy(attempts=0, connect_timeout=1, read_timeout=1)


def test_clients_are_made_once_per_container_per_service_region_and_policy(monkeypatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    fast = aws.CallPolicy(attempts=2, connect_timeout=1, read_timeout=1)
    slow = aws.CallPolicy(attempts=2, connect_timeout=1, read_timeout=30)
    aws.clear_clients()
    try:
        client = aws.client("dynamodb", fast)
        assert aws.client("dynamodb", fast) is client
        assert aws.client("dynamodb", slow) is not client
        assert aws.client("dynamodb", fast, region="us-west-2").meta.region_name == "us-west-2"
        # The policy really reaches botocore's retry handler and the HTTP layer.
        assert client.meta.config.retries["total_max_attempts"] == 2
        assert client.meta.config.read_timeout == 1
    finally:
        aws.clear_clients()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (10**38 + 1, "38 significant digits"),
        (Decimal("1.23456789012345678901234567890123456789"), "38 significant digits"),
        (Decimal("1E+126"), "outside DynamoDB's number range"),
        (Decimal("-1E+126"), "outside DynamoDB's number range"),
        (Decimal("1E-131"), "outside DynamoDB's number range"),
        (Decimal("NaN"), "not a finite number"),
    ],
)
def test_numbers_dynamodb_cannot_hold_are_named_before_any_write(value: Decimal | int, problem: str) -> None:
    with pytest.raises(dynamo.UnstorableValueError, match=problem):
        dynamo.check_number(value)


def test_storable_numbers_round_trip_exactly() -> None:
    for value in (0, 10**38 - 1, Decimal("1E-130"), Decimal("9.9999999999999999999999999999999999999E+125"), 12):
        dynamo.check_number(value)
    item = {"n": Decimal("19.90"), "m": {"x": [1, "a"]}, "b": b"\x00\x01", "s": {"a"}}
    assert dynamo.from_dynamo(dynamo.to_item(item)) == {
        "n": Decimal("19.90"),
        "m": {"x": [Decimal(1), "a"]},
        "b": dynamo.from_dynamo({"b": {"B": b"\x00\x01"}})["b"],
        "s": {"a"},
    }


def test_metrics_are_one_emf_line_on_stdout_dimensioned_by_function(monkeypatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "platform-dev-featurestore-enrich")
    out = io.StringIO()
    metrics.put_metrics({"RecordsFailed": 2, "RecordsApplied": 98}, namespace="Platform/Test", stream=out)
    (line,) = out.getvalue().splitlines()
    document = json.loads(line)
    (declared,) = document["_aws"]["CloudWatchMetrics"]
    assert declared == {
        "Namespace": "Platform/Test",
        "Dimensions": [["FunctionName"]],
        "Metrics": [{"Name": "RecordsFailed", "Unit": "Count"}, {"Name": "RecordsApplied", "Unit": "Count"}],
    }
    assert isinstance(document["_aws"]["Timestamp"], int)
    assert (document["FunctionName"], document["RecordsFailed"], document["RecordsApplied"]) == (
        "platform-dev-featurestore-enrich",
        2,
        98,
    )
