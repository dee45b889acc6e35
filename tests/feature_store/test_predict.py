"""The inference API through real API Gateway v2 events, against moto DynamoDB and SageMaker runtime."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import boto3
import pytest
import requests
from botocore.stub import Stubber
from moto.sagemakerruntime.models import sagemakerruntime_backends

from handlers.feature_store import predict as predict_module
from handlers.feature_store.enrich import process_batch
from handlers.feature_store.predict import predict
from tests.feature_store.conftest import REGION, TABLE, new_table
from tests.feature_store.streams import event, record

ENDPOINT = "platform-test-featurestore-model"
NOW = 1_795_428_150.0  # T0 + 2.5 minutes: 30 s after the fixture user's last event
REQUEST_ID = "JfhS9gUdoAMEPgQ="


def http_event(body: str | None, *, base64_encoded: bool = False) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event for `POST /predict`, as API Gateway sends it."""
    return {
        "version": "2.0",
        "routeKey": "POST /predict",
        "rawPath": "/predict",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc123.execute-api.eu-west-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
            "http": {"method": "POST", "path": "/predict", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7"},
            "requestId": REQUEST_ID,
            "routeKey": "POST /predict",
            "stage": "$default",
            "time": "23/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795428000000,
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def configure_model_results(*bodies: str) -> None:
    """Queue what moto's sagemaker-runtime answers, through its documented configuration API."""
    results = [{"Body": body, "ContentType": "application/json"} for body in bodies]
    response = requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results",
        json={"region": REGION, "results": results},
        timeout=5,
    )
    response.raise_for_status()


def sent_payloads() -> list[dict[str, Any]]:
    """The request bodies the endpoint received (moto keys its answers by them, per endpoint name as it
    parsed it: this moto version does not read the name from the path, so look under every name)."""
    backend = sagemakerruntime_backends["123456789012"][REGION]
    keys = [key for per_endpoint in backend.results.values() for key in per_endpoint]
    return [json.loads(json.loads(base64.b64decode(key))["Body"]) for key in keys]


@pytest.fixture
def clients(dynamodb: Any) -> dict[str, Any]:
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    process_batch(
        [
            record(event("u1", 0, eventType="view"), sequence=1),
            record(event("u1", 1, metric=12.5), sequence=2),
            record(event("u1", 2, eventType="purchase"), sequence=3),
        ],
        new_table(dynamodb),
    )
    return {"dynamodb": dynamodb, "runtime": runtime}


def respond(clients: dict[str, Any], http: dict[str, Any], *, now: float = NOW) -> dict[str, Any]:
    response = predict(http, table_name=TABLE, endpoint_name=ENDPOINT, now=now, **clients)
    assert response["headers"]["content-type"] == "application/json"
    return response


def call(clients: dict[str, Any], http: dict[str, Any], *, now: float = NOW) -> tuple[int, Any]:
    response = respond(clients, http, now=now)
    return response["statusCode"], json.loads(response["body"])


def test_prediction_sends_features_and_input_and_returns_the_model_json(clients: dict[str, Any]) -> None:
    configure_model_results('{"score": 0.87, "label": "churn"}')
    status, body = call(clients, http_event(json.dumps({"userId": "u1", "input": {"basket": 3, "ratio": 0.1}})))
    assert (status, body) == (200, {"score": 0.87, "label": "churn"})
    # Decimal from DynamoDB goes out as plain JSON numbers, bookkeeping attributes stay home.
    assert sent_payloads() == [
        {
            "userId": "u1",
            "features": {
                "lastEventTime": "2026-11-23T10:02:00.000Z",
                "lastEventType": "purchase",
                "lastMetric": 12.5,
                "totalCount": 3,
                "count5min": 3,
                "lastEventAgeSeconds": 30,
            },
            "input": {"basket": 3, "ratio": 0.1},
        }
    ]


@pytest.mark.parametrize(
    ("minutes_later", "count5min", "age"),
    [
        (2.5, 3, 30),  # all three events (minutes 0, 1, 2) are within the last 5 minutes
        (5.5, 2, 210),  # minute 0 left the window
        (7.5, 0, 330),  # nothing in the last 5 minutes, whatever the item says
        (60 * 24 * 3, 0, 3 * 86_400 - 120),  # idle for days: not "3 events in the last 5 minutes"
    ],
)
def test_stale_count_is_recounted_against_now_and_the_age_of_the_last_event_is_served(
    clients: dict[str, Any], minutes_later: float, count5min: int, age: int
) -> None:
    configure_model_results('{"score": 0.5}')
    now = 1_795_428_000.0 + minutes_later * 60
    response = respond(clients, http_event(json.dumps({"userId": "u1"})), now=now)
    assert response["statusCode"] == 200
    assert response["headers"]["x-last-event-age-seconds"] == str(age)
    served = sent_payloads()[0]["features"]
    assert (served["count5min"], served["lastEventAgeSeconds"]) == (count5min, age)
    assert served["totalCount"] == 3 and served["lastEventTime"] == "2026-11-23T10:02:00.000Z"


def test_base64_body_is_accepted(clients: dict[str, Any]) -> None:
    configure_model_results('{"score": 1}')
    body = base64.b64encode(json.dumps({"userId": "u1"}).encode()).decode()
    assert call(clients, http_event(body, base64_encoded=True)) == (200, {"score": 1})
    assert sent_payloads()[0]["input"] == {}


def test_unknown_user_is_404_with_a_message(clients: dict[str, Any]) -> None:
    status, body = call(clients, http_event(json.dumps({"userId": "nobody"})))
    assert status == 404
    assert body == {"message": "no features for user 'nobody'", "requestId": REQUEST_ID}
    assert sent_payloads() == []


def test_expired_features_are_not_served(clients: dict[str, Any]) -> None:
    status, _ = call(clients, http_event(json.dumps({"userId": "u1"})), now=NOW + 31 * 86_400)
    assert status == 404


@pytest.mark.parametrize(
    ("body", "base64_encoded", "message"),
    [
        (None, False, "body is required"),
        ("{not json", False, "body is not JSON"),
        ("[1, 2]", False, "body must be a JSON object"),
        ("null", False, 'body must be a JSON object {"userId": ...}, got null'),
        ('"u1"', False, "got string"),
        ("42", False, "got number"),
        ("true", False, "got boolean"),
        ('{"userId": "u1", "input": {"x": NaN}}', False, "body holds NaN, which is not JSON"),
        ('{"userId": "u1", "input": {"x": Infinity}}', False, "body holds Infinity, which is not JSON"),
        ('{"userId": "u1", "input": {"x": -Infinity}}', False, "body holds -Infinity, which is not JSON"),
        ('{"userId": "u1", "input": ' + "[" * 100_000 + "]" * 100_000 + "}", False, "nests deeper than 32"),
        ('{"userId": "u1", "input": {"a": ' + "[" * 40 + "]" * 40 + "}}", False, "nests deeper than 32"),
        ('{"input": {}}', False, "userId must be non-empty text"),
        ('{"userId": 7}', False, "userId must be non-empty text"),
        ('{"userId": "' + "u" * 2049 + '"}', False, "userId is longer than 2048 bytes"),
        ('{"userId": "u1", "input": [1]}', False, "input must be a JSON object, got array"),
        ('{"userId": "u1", "extra": 1}', False, "unknown keys ['extra']"),
        ("%%%", True, "not base64"),
    ],
)
def test_malformed_body_is_400(clients: dict[str, Any], body: str | None, base64_encoded: bool, message: str) -> None:
    status, answer = call(clients, http_event(body, base64_encoded=base64_encoded))
    assert status == 400
    assert message in answer["message"] and answer["requestId"] == REQUEST_ID


def test_endpoint_error_is_502_with_the_request_id(clients: dict[str, Any]) -> None:
    with Stubber(clients["runtime"]) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            service_message="Received server error (500) from primary with message 'boom'",
            http_status_code=424,
        )
        status, body = call(clients, http_event(json.dumps({"userId": "u1"})))
    assert status == 502
    assert body["requestId"] == REQUEST_ID
    assert body["message"].startswith(f"model endpoint {ENDPOINT} failed: ModelError")


def test_model_answer_that_is_not_json_is_502(clients: dict[str, Any]) -> None:
    configure_model_results("<html>oops</html>")
    status, body = call(clients, http_event(json.dumps({"userId": "u1"})))
    assert status == 502 and "non-JSON" in body["message"] and body["requestId"] == REQUEST_ID


def test_lambda_entry_point_reads_its_settings_from_the_environment(
    clients: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TABLE_NAME", TABLE)
    monkeypatch.setenv("ENDPOINT_NAME", ENDPOINT)
    configure_model_results('{"score": 0.5}')
    # The entry point uses the real clock: keep the fixture's features unexpired for it.
    clients["dynamodb"].update_item(
        TableName=TABLE,
        Key={"userId": {"S": "u1"}},
        UpdateExpression="SET expiresAt = :later",
        ExpressionAttributeValues={":later": {"N": str(int(time.time()) + 3600)}},
    )
    predict_module._clients.cache_clear()
    try:
        response = predict_module.handler(http_event(json.dumps({"userId": "u1"})), None)
    finally:
        predict_module._clients.cache_clear()
    assert response["statusCode"] == 200 and json.loads(response["body"]) == {"score": 0.5}
