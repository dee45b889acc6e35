"""Every shipped stack (dev, staging and prod) passes the whole pack."""

from __future__ import annotations

import pytest

from offline.policy_run import evaluate, render, waivers_of
from offline.runner import PlanGraph
from tests.conftest import stack_config


@pytest.mark.parametrize("plan_fixture", ["dev_plan", "prod_plan", "staging_plan"])
def test_shipped_stack_has_no_mandatory_violation(request: pytest.FixtureRequest, plan_fixture: str) -> None:
    plan: PlanGraph = request.getfixturevalue(plan_fixture)
    report = evaluate(plan, waivers_of(stack_config(plan.stack)))
    assert report.mandatory == [], "\n".join(render(report))
    assert report.unused_waivers == []
