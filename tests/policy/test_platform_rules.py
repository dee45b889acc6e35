"""Stack-wide resource rules: stateful resources protected in prod, required tags on every taggable resource."""

from __future__ import annotations

import json

import pulumi_aws as aws
import pytest

from components.runtime_params import RuntimeParameters
from offline.runner import PlanGraph
from policy.policies.platform import STATEFUL_TYPES, is_taggable
from tests.conftest import stack_config
from tests.policy.conftest import check, messages, mutated
from tests.policy.harness import run_resources


def test_prod_stateful_resources_of_the_baseline_are_protected_and_pass(baseline: PlanGraph) -> None:
    stateful = [r for r in baseline.resources if r.type in STATEFUL_TYPES]
    assert {r.type for r in stateful} >= {"aws:dynamodb/table:Table", "aws:s3/bucket:Bucket", "aws:kms/key:Key"}
    assert all(r.protect for r in stateful)
    assert messages(check(baseline, "stateful-protected-in-prod"), "stateful-protected-in-prod") == []


@pytest.mark.parametrize("name", ["guard-table", "raw-bucket", "guard-stream", "guard-dlq", "guard-vault"])
def test_an_unprotected_data_resource_in_prod_is_a_violation(baseline: PlanGraph, name: str) -> None:
    resource = next(r for r in baseline.resources if r.name == name and r.type in STATEFUL_TYPES)
    report = check(mutated(baseline, resource, lambda _inputs: None, protect=False), "stateful-protected-in-prod")
    assert messages(report, "stateful-protected-in-prod", name) == [
        "a data-bearing resource in prod is not protected from deletion"
    ]


def test_dev_does_not_require_protection(dev_plan: PlanGraph) -> None:
    stateful = [r for r in dev_plan.resources if r.type in STATEFUL_TYPES]
    assert stateful and not any(r.protect for r in stateful)
    assert messages(check(dev_plan, "stateful-protected-in-prod"), "stateful-protected-in-prod") == []


def test_default_tags_of_the_stack_providers_satisfy_the_tag_rule(baseline: PlanGraph) -> None:
    taggable = [r for r in baseline.resources if is_taggable(r.type)]
    assert len(taggable) > 20 and not any("tags" in r.inputs for r in taggable)
    assert messages(check(baseline, "required-tags"), "required-tags") == []


def _parameters_on_default_provider(ctx) -> None:
    # The building block without `provider=`: its parameters land on the default AWS provider.
    RuntimeParameters("loose", ctx, component="guard", kms_key_arn="arn:aws:kms:us-east-1:1:key/k", values={"a": "b"})
    aws.sqs.Queue(
        "tagged-by-hand",
        kms_master_key_id="arn:aws:kms:us-east-1:1:key/k",
        tags={"Environment": "prod", "Project": "platform", "ManagedBy": "pulumi", "Owner": "o", "CostCenter": "c"},
    )


def test_resources_outside_the_stack_providers_need_their_own_tags() -> None:
    graph = run_resources("prod", stack_config("prod"), _parameters_on_default_provider)
    report = check(graph, "required-tags")
    assert messages(report, "required-tags", "loose-a") == [
        "tags ['Environment', 'Project', 'ManagedBy', 'Owner', 'CostCenter'] are missing "
        "(neither the provider's default tags nor the resource set them)"
    ]
    assert messages(report, "required-tags", "tagged-by-hand") == []


def test_a_provider_whose_default_tags_lack_one_fails_every_resource_on_it(baseline: PlanGraph) -> None:
    primary = next(r for r in baseline.resources if r.type == "pulumi:providers:aws" and r.name == "aws-primary")

    def drop_cost_center(inputs: dict) -> None:
        tags = json.loads(inputs["defaultTags"])
        del tags["tags"]["CostCenter"]
        inputs["defaultTags"] = json.dumps(tags)

    report = check(mutated(baseline, primary, drop_cost_center), "required-tags")
    on_primary = [r for r in baseline.resources if r.provider_urn == primary.urn and is_taggable(r.type)]
    assert len(report.violations) == len(on_primary) > 20
    assert all("['CostCenter']" in v.message for v in report.violations)


def test_taggable_is_read_from_the_sdk() -> None:
    assert is_taggable("aws:s3/bucket:Bucket") and is_taggable("aws:lambda/function:Function")
    assert not is_taggable("aws:iam/rolePolicy:RolePolicy")
    assert not is_taggable("aws:s3/bucketPolicy:BucketPolicy")
    assert not is_taggable("kubernetes:core/v1:Secret")
    with pytest.raises(LookupError, match="aws:nothing/here:Here"):
        is_taggable("aws:nothing/here:Here")


# The same rules on what the components really build (prod stack, all components enabled).
@pytest.mark.parametrize(
    "name",
    ["feature-store-features", "feature-store-events", "data-lake-raw-bucket", "backup-vault", "eks-cluster-key-key"],
)
def test_an_unprotected_component_resource_in_prod_is_a_violation(prod_plan: PlanGraph, name: str) -> None:
    assert messages(check(prod_plan, "stateful-protected-in-prod"), "stateful-protected-in-prod") == []
    resource = next(r for r in prod_plan.resources if r.name == name and r.type in STATEFUL_TYPES)
    assert resource.protect is True
    report = check(mutated(prod_plan, resource, lambda _inputs: None, protect=False), "stateful-protected-in-prod")
    assert messages(report, "stateful-protected-in-prod") == [
        "a data-bearing resource in prod is not protected from deletion"
    ]


def test_the_prod_stacks_primary_provider_tags_every_component_resource(prod_plan: PlanGraph) -> None:
    assert messages(check(prod_plan, "required-tags"), "required-tags") == []
    primary = next(r for r in prod_plan.resources if r.type == "pulumi:providers:aws" and r.name == "aws-primary")

    def drop_owner(inputs: dict) -> None:
        tags = json.loads(inputs["defaultTags"])
        del tags["tags"]["Owner"]
        inputs["defaultTags"] = json.dumps(tags)

    report = check(mutated(prod_plan, primary, drop_owner), "required-tags")
    on_primary = [r for r in prod_plan.resources if r.provider_urn == primary.urn and is_taggable(r.type)]
    assert len(report.violations) == len(on_primary) > 100
    assert all("['Owner']" in v.message for v in report.violations)
