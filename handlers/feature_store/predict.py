"""Inference API (API Gateway HTTP API, payload format 2.0) -> features -> SageMaker endpoint.

`POST /predict` with `{"userId": "...", "input": {...}}`: reads the user's features, invokes the
endpoint with `{userId, features, input}` and returns the model's JSON as it came. Errors are JSON
with a message and the API request id: 400 malformed body, 404 unknown user, 502 endpoint failure.

Environment: TABLE_NAME, ENDPOINT_NAME (set by the component).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from handlers.common import aws
from handlers.common.dynamo import from_dynamo, to_dynamo
from handlers.common.jsonutil import dumps
from handlers.common.log import get_logger
from handlers.feature_store.features import (
    AGE_ATTRIBUTE,
    FEATURES,
    MAX_USER_ID_BYTES,
    STATE,
    TTL_ATTRIBUTE,
    served_features,
)

LOGGER = get_logger("feature_store.predict")
JSON_HEADERS = {"content-type": "application/json"}

# An API caller is waiting: the whole request must end, with our own 503/502, before the function
# timeout and the API integration timeout (15 s each, set by the component). Worst case:
# FEATURE_READ.worst_case_seconds() + MODEL_INVOKE.worst_case_seconds() = 4 + 9 = 13 s.
FEATURE_READ = aws.CallPolicy(attempts=2, connect_timeout=0.5, read_timeout=1.0)
# One attempt: a model call is slow and costly, and its failures (ModelError) are not transient.
MODEL_INVOKE = aws.CallPolicy(attempts=1, connect_timeout=1.0, read_timeout=8.0)


# Deeper JSON is refused: nothing the model takes needs it, and Python's parser and serialiser
# recurse per level (a body of 100,000 "[" would raise RecursionError, a 500).
MAX_JSON_DEPTH = 32
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def _json_type(value: Any) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def _reject_constant(name: str) -> Any:
    raise BadRequestError(f"body holds {name}, which is not JSON (numbers must be finite)")


def json_depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0), without recursion."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, dict):
            children = list(current.values())
        elif isinstance(current, list):
            children = current
        else:
            deepest = max(deepest, depth)
            continue
        deepest = max(deepest, depth + 1)
        pending.extend((child, depth + 1) for child in children)
    return deepest


class BadRequestError(ValueError):
    """The request body is not what the API accepts; the message says what is wrong."""


class EndpointError(RuntimeError):
    """The model endpoint failed or answered something that is not JSON."""


@dataclass(frozen=True)
class PredictRequest:
    user_id: str
    input: dict[str, Any] = field(default_factory=dict)


def parse_request(event: Mapping[str, Any]) -> PredictRequest:
    """The body of an HTTP API event as a PredictRequest (raises BadRequestError)."""
    body = event.get("body")
    if body is None or body == "":
        raise BadRequestError('body is required: {"userId": "...", "input": {...}}')
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(body, validate=True).decode()
        except (binascii.Error, ValueError):
            raise BadRequestError("body is marked base64 but is not base64 UTF-8") from None
    try:
        # Floats stay floats: the input goes to the model unchanged and never into DynamoDB.
        document = json.loads(body, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise BadRequestError(f"body is not JSON ({error.msg} at position {error.pos})") from None
    except RecursionError:
        raise BadRequestError(f"body nests deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(document, dict):
        raise BadRequestError(f'body must be a JSON object {{"userId": ...}}, got {_json_type(document)}')
    if json_depth(document) > MAX_JSON_DEPTH:
        raise BadRequestError(f"body nests deeper than {MAX_JSON_DEPTH} levels")
    unknown = sorted(set(document) - {"userId", "input"})
    if unknown:
        raise BadRequestError(f"unknown keys {unknown}; allowed: userId, input")
    user_id = document.get("userId")
    if not isinstance(user_id, str) or not user_id.strip():
        raise BadRequestError(f"userId must be non-empty text, got {user_id!r}")
    if len(user_id.encode()) > MAX_USER_ID_BYTES:
        # DynamoDB would refuse the key (a ValidationException, read as "store unavailable" otherwise).
        raise BadRequestError(f"userId is longer than {MAX_USER_ID_BYTES} bytes")
    model_input = document.get("input", {})
    if not isinstance(model_input, dict):
        raise BadRequestError(f"input must be a JSON object, got {_json_type(model_input)}")
    return PredictRequest(user_id=user_id, input=model_input)


def read_features(client: Any, table_name: str, user_id: str, *, now: float) -> dict[str, Any] | None:
    """The user's model features as of `now`, or None if the user has none (or they have expired)."""
    # The features, the window they are recounted from, and the expiry; no other bookkeeping.
    aliases = {"#f": FEATURES, "#s": STATE, "#w": "recentEventTimes", "#e": TTL_ATTRIBUTE}
    response = client.get_item(
        TableName=table_name,
        Key={"userId": to_dynamo(user_id)},
        ProjectionExpression="#f, #s.#w, #e",
        ExpressionAttributeNames=aliases,
    )
    raw = response.get("Item")
    if not raw:
        return None
    item = from_dynamo(raw)
    # TTL deletion lags expiry by up to days; expired features must not reach the model.
    expires_at = item.get(TTL_ATTRIBUTE)
    if expires_at is not None and int(expires_at) <= now:
        return None
    return served_features(user_id, item, int(now * 1000))


def invoke_model(runtime: Any, endpoint_name: str, payload: Mapping[str, Any]) -> str:
    """Call the endpoint with the payload as JSON (Decimal-safe); returns the model's JSON text."""
    try:
        response = runtime.invoke_endpoint(
            EndpointName=endpoint_name,
            ContentType="application/json",
            Accept="application/json",
            Body=dumps(payload).encode(),
        )
        text = response["Body"].read().decode()
    except ClientError as error:
        details = error.response.get("Error", {})
        raise EndpointError(f"{details.get('Code', 'Error')}: {details.get('Message', '')}".strip()) from error
    except (BotoCoreError, UnicodeDecodeError) as error:
        raise EndpointError(f"{type(error).__name__}: {error}") from error
    try:
        json.loads(text)
    except json.JSONDecodeError:
        raise EndpointError(f"endpoint answered non-JSON: {text[:200]!r}") from None
    return text


def _response(status: int, body: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "headers": {**JSON_HEADERS, **(headers or {})}, "body": body}


def _error(status: int, message: str, request_id: str | None) -> dict[str, Any]:
    return _response(status, json.dumps({"message": message, "requestId": request_id}))


def predict(
    event: Mapping[str, Any],
    *,
    dynamodb: Any,
    runtime: Any,
    table_name: str,
    endpoint_name: str,
    now: float,
) -> dict[str, Any]:
    """The whole request: parse, read features, invoke, and shape the HTTP response."""
    request_id = (event.get("requestContext") or {}).get("requestId")
    try:
        request = parse_request(event)
    except BadRequestError as error:
        LOGGER.warning("bad request", extra={"requestId": request_id, "reason": str(error)})
        return _error(400, str(error), request_id)
    try:
        features = read_features(dynamodb, table_name, request.user_id, now=now)
    except (ClientError, BotoCoreError) as error:
        LOGGER.error("feature read failed", extra={"requestId": request_id, "error": str(error)})
        return _error(503, "feature store unavailable; retry later", request_id)
    if features is None:
        return _error(404, f"no features for user {request.user_id!r}", request_id)
    payload = {"userId": request.user_id, "features": features, "input": request.input}
    try:
        prediction = invoke_model(runtime, endpoint_name, payload)
    except EndpointError as error:
        LOGGER.error("endpoint failed", extra={"requestId": request_id, "endpoint": endpoint_name, "error": str(error)})
        return _error(502, f"model endpoint {endpoint_name} failed: {error}", request_id)
    age = features.get(AGE_ATTRIBUTE)
    return _response(200, prediction, {"x-last-event-age-seconds": str(age)} if age is not None else None)


@cache
def _clients() -> tuple[Any, Any]:
    """Created once per container, with the tight policies above."""
    return aws.client("dynamodb", FEATURE_READ), aws.client("sagemaker-runtime", MODEL_INVOKE)


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    dynamodb, runtime = _clients()
    return predict(
        event,
        dynamodb=dynamodb,
        runtime=runtime,
        table_name=os.environ["TABLE_NAME"],
        endpoint_name=os.environ["ENDPOINT_NAME"],
        now=time.time(),
    )
