"""Three defects of moto 5.2.5's Step Functions interpreter that the lake's orchestration meets, each
fixed to behave as Step Functions does (and each asserting moto's code is still what it fixes):

1. Every `.sync` task (`glue:startJobRun.sync`) dereferences its absent task-token endpoint when it
   ends (`callback_endpoint.interrupt_all()` on None) and fails with States.Runtime.
2. A Parallel state whose branch failed with a `States.*` error (States.TaskFailed from a failed job
   run) re-raises it as a custom error name, which moto forbids, so the execution fails with
   States.Runtime instead of the branch's error.
3. `aws-sdk` task results keep botocore's streaming bodies (S3 GetObject `Body`), where Step
   Functions returns the body as a string.
"""

from __future__ import annotations

import inspect
import textwrap

import pytest
from botocore.response import StreamingBody
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_aws_sdk,
    state_task_service_callback,
)


def _guard_missing_task_token_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    cls = state_task_service_callback.StateTaskServiceCallback
    source = textwrap.dedent(inspect.getsource(cls._eval_integration_pattern))
    broken = "callback_endpoint.interrupt_all()"
    assert source.count(broken) == 1, "moto changed: review fix 1"
    fixed = source.replace(broken, f"if callback_endpoint is not None: {broken}")
    namespace = dict(vars(state_task_service_callback))
    exec(compile(fixed, inspect.getsourcefile(cls), "exec"), namespace)
    monkeypatch.setattr(cls, "_eval_integration_pattern", namespace["_eval_integration_pattern"])


def _branch_errors_keep_their_names(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "CustomErrorName(error_name=exit_error_name)" in inspect.getsource(branches_decl), "moto changed: fix 2"
    monkeypatch.setattr(branches_decl, "CustomErrorName", ErrorName)


def _sdk_bodies_as_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    cls = state_task_service_aws_sdk.StateTaskServiceAwsSdk
    original = cls._eval_service_task

    def eval_service_task(self, env, *args, **kwargs):
        original(self, env, *args, **kwargs)
        response = env.stack[-1]
        for key, value in list(response.items()):
            if isinstance(value, StreamingBody):
                response[key] = value.read().decode("utf-8")

    monkeypatch.setattr(cls, "_eval_service_task", eval_service_task)


def apply(monkeypatch: pytest.MonkeyPatch) -> None:
    _guard_missing_task_token_endpoint(monkeypatch)
    _branch_errors_keep_their_names(monkeypatch)
    _sdk_bodies_as_strings(monkeypatch)
