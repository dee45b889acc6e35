"""Reserved Lambda concurrency: off outside prod by default (a new account's quota of 10 refuses any
reservation), and the README states the quota a prod `pulumi up` needs in each region."""

from __future__ import annotations

import re
from collections import Counter
from types import SimpleNamespace

import pytest

from components.config import StackConfig, parse_stack_config
from components.lambda_function import FunctionSpec, reserved_concurrency
from offline.runner import ROOT, PlanGraph, flatten_config, merge_config
from tests.conftest import stack_config

# Lambda keeps this many concurrent executions unreserved in every region.
UNRESERVED_MINIMUM = 100
FUNCTION = "aws:lambda/function:Function"


def reservations_per_region(plan: PlanGraph) -> Counter[str]:
    totals: Counter[str] = Counter()
    for function in plan.of_type(FUNCTION):
        reserved = function.inputs.get("reservedConcurrentExecutions", -1)
        if reserved > 0:
            totals[plan.provider_inputs(function)["region"]] += int(reserved)
    return totals


@pytest.mark.parametrize("plan_fixture", ["dev_plan", "staging_plan"])
def test_stacks_outside_prod_reserve_no_concurrency(request: pytest.FixtureRequest, plan_fixture: str) -> None:
    plan: PlanGraph = request.getfixturevalue(plan_fixture)
    assert plan.of_type(FUNCTION)
    assert reservations_per_region(plan) == Counter()


def test_the_readme_states_the_quota_a_prod_deployment_needs(prod_plan: PlanGraph) -> None:
    totals = reservations_per_region(prod_plan)
    primary, dr = prod_plan.outputs["regions"]["primary"], prod_plan.outputs["regions"]["dr"]
    assert totals[primary] > 0 and totals[dr] > 0  # both regions hold reserved functions
    expected = (
        f"{totals[primary]} concurrent executions in {primary} and {totals[dr]} in {dr}, so the account's quota "
        '"Concurrent executions" (Service Quotas, AWS Lambda, L-B99A9384) must be at least '
        f"{totals[primary] + UNRESERVED_MINIMUM} in {primary} and {totals[dr] + UNRESERVED_MINIMUM} in {dr}"
    )
    readme = (ROOT / "README.md").read_text()
    [stated] = re.findall(r"<!-- lambda-quota:start -->(.*?)<!-- lambda-quota:end -->", readme, re.S)
    assert stated == expected, "update the README's 'Lambda concurrency quota' to the prod plan's reservations"


def config(stack: str, overrides: dict) -> StackConfig:
    raw = flatten_config(merge_config(stack_config(stack), overrides))
    return parse_stack_config(raw, project="platform", stack=stack)


@pytest.mark.parametrize(
    ("stack", "switch", "applied"),
    [("dev", None, -1), ("dev", True, 7), ("prod", None, 7), ("prod", False, -1)],
)
def test_the_switch_decides_whether_reservations_apply(stack: str, switch: bool | None, applied: int) -> None:
    overrides = {"platform:lambdaReservedConcurrency": switch}
    if switch is False:  # prod's own reservations would be refused with the switch off
        overrides |= {
            "platform:featureStore": {
                "enrichReservedConcurrency": None,
                "inference": {"predictReservedConcurrency": None},
            },
            "platform:orders": {"taskReservedConcurrency": None},
        }
    ctx = SimpleNamespace(config=config(stack, overrides))
    spec = FunctionSpec(
        component="demo", purpose="echo", module="common.log", description="demo", reserved_concurrency=7
    )
    assert reserved_concurrency(ctx, spec) == applied  # type: ignore[arg-type]


def test_an_unreserved_function_stays_unreserved_in_prod() -> None:
    ctx = SimpleNamespace(config=config("prod", {}))
    spec = FunctionSpec(component="demo", purpose="echo", module="common.log", description="demo")
    assert reserved_concurrency(ctx, spec) == -1  # type: ignore[arg-type]
