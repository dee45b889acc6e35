# ruff: noqa: E501 -- the mutation cases are a table, one case per line.
"""(4) Every constrained input the program declares is one the AWS API model accepts."""

from __future__ import annotations

import copy

import pytest

from tests.least_privilege.api_inputs import BINDINGS, UNCONSTRAINED_TYPES, Binding, api_shape, check_resource
from tests.least_privilege.conftest import SHIPPED_STACKS

# One xdist worker runs them all: they share the session plans of every stack and one recording.
pytestmark = pytest.mark.xdist_group(name="least_privilege")


def test_least_privilege_bindings_name_real_api_members() -> None:
    for binding in BINDINGS:
        for member in binding.properties.values():
            api_shape(binding.service, binding.operation, member)  # KeyError names a wrong path


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_least_privilege_every_aws_type_in_the_plan_is_bound(stack, permission_models) -> None:
    declared = {r.type for r in permission_models[stack].plan.resources if r.type.startswith("aws:")}
    unbound = sorted(declared - {b.pulumi_type for b in BINDINGS} - UNCONSTRAINED_TYPES)
    assert not unbound, f"map these types' properties to their API members in api_inputs.BINDINGS: {unbound}"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_least_privilege_plan_inputs_are_accepted_by_the_api_models(stack, permission_models) -> None:
    plan = permission_models[stack].plan
    failures = [f for b in BINDINGS for r in plan.of_type(b.pulumi_type) for f in check_resource(b, r.name, r.inputs)]
    checked = sum(1 for b in BINDINGS for r in plan.of_type(b.pulumi_type) for _ in b.properties)
    assert checked > 200
    assert not failures, "inputs AWS would refuse:\n" + "\n".join(failures)


def _binding(pulumi_type: str, operation: str) -> Binding:
    return next(b for b in BINDINGS if b.pulumi_type == pulumi_type and b.operation == operation)


@pytest.mark.parametrize(
    ("pulumi_type", "operation", "change", "expected"),
    [
        ("aws:lambda/function:Function", "CreateFunction", {"runtime": "python3.99"}, "runtime -> lambda.CreateFunction Runtime: 'python3.99' is not one of"),
        ("aws:lambda/eventSourceMapping:EventSourceMapping", "CreateEventSourceMapping", {"batchSize": 20000.0}, "batchSize -> lambda.CreateEventSourceMapping BatchSize: 20000.0 is outside 1..10000"),
        ("aws:kms/key:Key", "ScheduleKeyDeletion", {"deletionWindowInDays": 400.0}, "deletionWindowInDays -> kms.ScheduleKeyDeletion PendingWindowInDays: 400.0 is outside 1..365"),
        ("aws:sfn/stateMachine:StateMachine", "CreateStateMachine", {"name": "x" * 81}, "name -> stepfunctions.CreateStateMachine name: length 81 is outside 1..80"),
    ],
)  # fmt: skip
def test_least_privilege_a_value_outside_the_model_is_named(
    pulumi_type, operation, change, expected, permission_models
) -> None:
    plan = permission_models[SHIPPED_STACKS[0]].plan
    resource = plan.of_type(pulumi_type)[0]
    inputs = {**copy.deepcopy(resource.inputs), **change}
    failures = check_resource(_binding(pulumi_type, operation), resource.name, inputs)
    assert any(expected in f and resource.name in f for f in failures), failures
