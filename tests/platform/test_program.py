"""The whole program per stack: providers, regions, default tags, exports, and config errors."""

from __future__ import annotations

import json

import pulumi
import pytest

from offline.runner import PlanGraph
from tests.conftest import PlanFactory

REQUIRED_TAGS = {"Environment", "Project", "ManagedBy", "Owner", "CostCenter"}


def providers(plan: PlanGraph) -> dict[str, dict]:
    return {r.name: r.inputs for r in plan.of_type("pulumi:providers:aws")}


@pytest.mark.parametrize(
    ("plan_fixture", "primary", "dr"),
    [
        ("dev_plan", "eu-west-1", "eu-central-1"),
        ("prod_plan", "us-east-1", "us-west-2"),
        ("staging_plan", "eu-west-2", "eu-west-1"),
    ],
)
def test_each_stack_has_a_provider_per_region(request, plan_fixture: str, primary: str, dr: str) -> None:
    plan: PlanGraph = request.getfixturevalue(plan_fixture)
    found = providers(plan)
    assert found["aws-primary"]["region"] == primary
    assert found["aws-dr"]["region"] == dr
    assert plan.outputs["regions"] == {"primary": primary, "dr": dr}


@pytest.mark.parametrize("plan_fixture", ["dev_plan", "prod_plan", "staging_plan"])
def test_providers_tag_everything_with_ownership(request, plan_fixture: str) -> None:
    plan: PlanGraph = request.getfixturevalue(plan_fixture)
    for provider in providers(plan).values():
        tags = json.loads(provider["defaultTags"])["tags"]
        assert set(tags) >= REQUIRED_TAGS
        assert tags["ManagedBy"] == "pulumi"
        assert tags["Environment"] == plan.stack
        assert tags["Project"] == "platform"


def test_every_aws_resource_uses_an_explicit_provider(prod_plan: PlanGraph) -> None:
    explicit = {r.urn for r in prod_plan.of_type("pulumi:providers:aws")}
    for resource in prod_plan.resources:
        if resource.custom and resource.type.startswith("aws:"):
            assert resource.provider_urn in explicit, f"{resource.type} {resource.name} uses the default provider"


def test_a_bad_config_stops_the_program_before_any_resource(plan_with: PlanFactory) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        plan_with("dev", {"platform:drRegion": "eu-west-1", "platform:logRetentionDays": 4})
    message = str(caught.value)
    assert "platform:drRegion" in message and "platform:logRetentionDays" in message


def test_adding_a_stack_takes_one_file(staging_plan: PlanGraph) -> None:
    # Pulumi.staging.yaml is all there is to the staging stack (staging_plan runs just that).
    assert staging_plan.outputs["environment"] == "staging"
