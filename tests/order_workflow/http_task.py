"""Step Functions' HTTP Task (`arn:aws:states:::http:invoke`) for moto's interpreter, which has none.

What AWS does, and so this does: read the EventBridge connection named in
`Authentication.ConnectionArn`, take its credential from the connection's Secrets Manager secret
(moto keeps it there as AWS does), add it as the header the connection names, send the request to
`ApiEndpoint` (here a server on 127.0.0.1), and answer `{StatusCode, StatusText, Headers,
ResponseBody}`; a non-2xx answer is the error `States.Http.StatusCode.<code>`, a refused connection
`States.Http.Socket`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

TIMEOUT_SECONDS = 5.0


class HttpTaskError(Exception):
    def __init__(self, error: str, cause: str) -> None:
        super().__init__(cause)
        self.error = error
        self.cause = cause


def _credential_header(connection_arn: str, region: str) -> tuple[str, str]:
    name = connection_arn.split(":connection/", 1)[1].split("/", 1)[0]
    connection = boto3.client("events", region_name=region).describe_connection(Name=name)
    secret = boto3.client("secretsmanager", region_name=region).get_secret_value(SecretId=connection["SecretArn"])
    values = json.loads(secret["SecretString"])
    if connection["AuthorizationType"] != "API_KEY":
        raise HttpTaskError("States.Runtime", f"connection {name}: only API_KEY is emulated")
    return values["api_key_name"], values["api_key_value"]


class StateTaskServiceHttp(StateTaskService):
    # The HTTP Task's parameters (AWS: "Call HTTPS APIs in Step Functions workflows").
    _PARAMETERS = frozenset(
        {"ApiEndpoint", "Method", "Authentication", "Headers", "RequestBody", "QueryParameters", "Transform"}
    )

    def _get_supported_parameters(self) -> set[str] | None:
        return set(self._PARAMETERS) if self.resource.api_action == "invoke" else None

    def _eval_service_task(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        parameters = normalised_parameters
        header, key = _credential_header(parameters["Authentication"]["ConnectionArn"], resource_runtime_part.region)
        headers = {**parameters.get("Headers", {}), header: key}
        body = parameters.get("RequestBody")
        request = urllib.request.Request(
            parameters["ApiEndpoint"],
            data=json.dumps(body).encode() if body is not None else None,
            headers={**headers, "Content-Type": "application/json"},
            method=parameters["Method"],
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                status, reason, answer_headers, raw = (
                    response.status,
                    response.reason,
                    dict(response.headers),
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            raise HttpTaskError(f"States.Http.StatusCode.{error.code}", error.read().decode() or error.reason) from None
        except (urllib.error.URLError, OSError) as error:
            raise HttpTaskError("States.Http.Socket", str(error)) from None
        env.stack.append(
            {
                "StatusCode": status,
                "StatusText": reason,
                "Headers": answer_headers,
                "ResponseBody": json.loads(raw or b"null"),
            }
        )

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if not isinstance(ex, HttpTaskError):
            return super()._from_error(env=env, ex=ex)
        return FailureEvent(
            env=env,
            error_name=CustomErrorName(ex.error),
            event_type=HistoryEventType.TaskFailed,
            event_details=EventDetails(
                taskFailedEventDetails=TaskFailedEventDetails(
                    error=ex.error,
                    cause=ex.cause,
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )
            ),
        )


HTTP_ERRORS = "States.Http."


def http_error_names(original_init: Any) -> Any:
    """CustomErrorName.__init__, also taking the HTTP Task's own `States.Http.*` error names (AWS
    defines them; moto's parser, without an HTTP Task, refuses every unknown `States.` name)."""

    def init(self: CustomErrorName, error_name: str | None) -> None:
        if error_name is not None and error_name.startswith(HTTP_ERRORS):
            ErrorName.__init__(self, error_name=error_name)
            return
        original_init(self, error_name)

    return init


def with_http(original: Any) -> Any:
    """state_task_service_for, knowing the `http` service."""

    def state_task_service_for(service_name: str) -> StateTaskService:
        return StateTaskServiceHttp() if service_name == "http" else original(service_name)

    return state_task_service_for
