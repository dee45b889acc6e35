"""Every component can be used twice in one program: no URN and no physical name is shared.

The program below builds each of the five components twice (different Pulumi names and physical-name
slugs) in the prod stack, where every optional part (inference, database, access logging, ...) is on.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from components.backup_vault.component import BackupVault
from components.config import load_stack_config
from components.context import StackContext
from components.data_lake.component import DataLake
from components.eks_gitops.component import EksGitOpsCluster
from components.feature_store.component import FeatureStorePipeline
from components.order_workflow.component import OrderWorkflow
from components.scope import check_slug
from offline.runner import PlanGraph, run_program
from tests.conftest import once_per_run

# Inputs that are a resource's physical identity in AWS (unique per account and region, or globally).
IDENTITY_INPUTS = ("name", "identifier", "nodeGroupName", "dashboardName")
# A bucket's name is its identity; on the resources that configure a bucket, `bucket` names the parent.
BUCKET = "aws:s3/bucket:Bucket"
# Types whose `name` is only unique inside their parent resource, so two instances may share it.
SCOPED_NAMES = {
    "aws:iam/rolePolicy:RolePolicy": "an inline policy's name is unique within its role",
    "aws:glue/catalogTable:CatalogTable": "a table name is unique within its database",
    "aws:athena/namedQuery:NamedQuery": "named queries are identified by id; the name is a label",
    "aws:apigatewayv2/stage:Stage": "the $default stage exists once per API",
    "aws:backup/restoreTestingSelection:RestoreTestingSelection": "unique within its restore testing plan",
}


def _two_of_each() -> None:
    config = load_stack_config()
    ctx = StackContext.create(config)
    for suffix in ("", "2"):
        EksGitOpsCluster(f"eks{suffix}", ctx, config.eks, slug=f"eks{suffix}")
        FeatureStorePipeline(f"feature-store{suffix}", ctx, config.feature_store, slug=f"featurestore{suffix}")
        DataLake(f"data-lake{suffix}", ctx, config.data_lake, slug=f"datalake{suffix}")
        BackupVault(f"backup{suffix}", ctx, config.backup, slug=f"backup{suffix}")
        OrderWorkflow(f"orders{suffix}", ctx, config.orders, slug=f"orders{suffix}")


@pytest.fixture(scope="module")
def two_instances_plan(tmp_path_factory: pytest.TempPathFactory) -> PlanGraph:
    return once_per_run(tmp_path_factory, "two-instances-plan", lambda: run_program("prod", program=_two_of_each))


def test_two_instances_of_every_component_have_unique_urns(two_instances_plan: PlanGraph) -> None:
    urns = Counter(r.urn for r in two_instances_plan.resources)
    assert [urn for urn, count in urns.items() if count > 1] == []
    components = Counter(r.type for r in two_instances_plan.resources if r.type.startswith("platform:index:"))
    assert components == {
        t: 2
        for t in (
            "platform:index:EksGitOpsCluster",
            "platform:index:FeatureStorePipeline",
            "platform:index:DataLake",
            "platform:index:BackupVault",
            "platform:index:OrderWorkflow",
        )
    }


def test_two_instances_of_every_component_have_unique_physical_names(two_instances_plan: PlanGraph) -> None:
    names: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    checked = 0
    for resource in two_instances_plan.resources:
        if resource.type in SCOPED_NAMES or resource.type.startswith(("kubernetes:", "pulumi:")):
            continue
        region = two_instances_plan.provider_inputs(resource).get("region", "")
        for key in (*IDENTITY_INPUTS, "bucket") if resource.type == BUCKET else IDENTITY_INPUTS:
            value = resource.inputs.get(key)
            if isinstance(value, str) and value:
                names[(resource.type, region, value)].append(resource.name)
                checked += 1
    duplicates = {key: owners for key, owners in names.items() if len(owners) > 1}
    assert duplicates == {}
    # The check saw the named resources of both instances (buckets, tables, functions, roles, ...).
    assert checked > 250


def test_two_instances_keep_buckets_global_and_within_the_s3_limit(two_instances_plan: PlanGraph) -> None:
    buckets = [r.inputs["bucket"] for r in two_instances_plan.of_type(BUCKET)]
    assert len(buckets) == len(set(buckets)) >= 10
    for bucket in buckets:
        assert len(bucket) <= 63, bucket
        assert "-123456789012-" in bucket, f"{bucket} does not carry the account id"
        assert bucket.endswith(("-us-east-1", "-us-west-2")), f"{bucket} does not carry its region"


def test_two_instances_refuse_a_slug_that_cannot_be_part_of_a_name() -> None:
    assert check_slug("orders2") == "orders2"
    for bad in ("Orders", "2orders", "orders_2", "a" * 21, ""):
        with pytest.raises(ValueError, match="slug"):
            check_slug(bad)
