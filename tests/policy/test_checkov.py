"""checkov over the plans: the Terraform plan adapter, the reviewed skips, and every shipped stack."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from offline.checkov_plan import (
    SKIPS_FILE,
    CheckovReport,
    CheckovSetupError,
    Skip,
    judge,
    load_skips,
    parse_skips,
)
from offline.runner import PlanGraph
from offline.terraform_plan import (
    BLOCK_RENAMES,
    BLOCKS_NAMED_ALIKE,
    NO_TERRAFORM_COUNTERPART,
    TERRAFORM_TYPES,
    UnmappedTypeError,
    terraform_plan_document,
    terraform_type_of,
)
from tests.policy.checkov_pending import PENDING
from tests.policy.conftest import SHIPPED, shipped_plans


def _resources(document: dict[str, Any], address: str) -> tuple[dict[str, Any], dict[str, Any]]:
    planned = {r["address"]: r for r in document["planned_values"]["root_module"]["resources"]}
    config = {r["address"]: r for r in document["configuration"]["root_module"]["resources"]}
    return planned[address], config[address]


# -- the adapter -----------------------------------------------------------------------------------


def test_every_aws_type_of_the_shipped_stacks_maps_to_terraform(request: pytest.FixtureRequest) -> None:
    unmapped = sorted(
        {
            r.type
            for plan in shipped_plans(request)
            for r in plan.resources
            if r.type.startswith("aws:") and r.type not in TERRAFORM_TYPES and not NO_TERRAFORM_COUNTERPART.get(r.type)
        }
    )
    assert unmapped == []
    for type_token, terraform_type in TERRAFORM_TYPES.items():
        assert type_token.startswith("aws:") and terraform_type.startswith("aws_"), type_token


def test_a_type_without_a_mapping_is_an_error_naming_the_table(dev_plan: PlanGraph) -> None:
    bucket = dev_plan.one("aws:s3/bucket:Bucket", "data-lake-raw-bucket")
    with pytest.raises(UnmappedTypeError, match=r"aws:s3/directoryBucket:DirectoryBucket: .*TERRAFORM_TYPES"):
        terraform_type_of(type(bucket)(**{**bucket.__dict__, "type": "aws:s3/directoryBucket:DirectoryBucket"}))


def test_every_nested_block_of_the_shipped_stacks_has_its_terraform_name(request: pytest.FixtureRequest) -> None:
    """A list of objects is a repeated block: Terraform's name is either the singular (renamed) or the same."""

    def block_keys(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, list) and item and all(isinstance(i, dict) for i in item):
                    yield key
                yield from block_keys(item)
        elif isinstance(value, list):
            for item in value:
                yield from block_keys(item)

    keys = {
        k
        for plan in shipped_plans(request)
        for r in plan.resources
        if r.type.startswith("aws:")
        for k in block_keys(r.inputs)
    }
    assert sorted(keys - set(BLOCK_RENAMES) - BLOCKS_NAMED_ALIKE) == []


def test_the_plan_has_terraform_attributes_blocks_as_lists_and_whole_numbers(prod_plan: PlanGraph) -> None:
    document = terraform_plan_document(prod_plan)
    encryption, _ = _resources(document, "aws_s3_bucket_server_side_encryption_configuration.data-lake-raw-encryption")
    assert encryption["values"]["rule"] == [
        {
            "apply_server_side_encryption_by_default": [
                {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": prod_plan.one("aws:kms/key:Key", "data-lake-key-key").outputs["arn"],
                }
            ],
            "bucket_key_enabled": True,
        }
    ]
    security_group, _ = _resources(document, "aws_security_group.backup-db-sg")
    assert security_group["values"]["ingress"][0]["from_port"] == 3306
    assert isinstance(security_group["values"]["ingress"][0]["from_port"], int)
    table, _ = _resources(document, "aws_dynamodb_table.backup-app-table")
    assert {"name": "id", "type": "S"} in table["values"]["attribute"]
    assert table["values"]["point_in_time_recovery"] == [{"enabled": True}]
    assert table["values"]["tags"] == {"BackupEnabled": "true"}  # map keys are data, never renamed


def test_references_to_other_resources_become_configuration_references(prod_plan: PlanGraph) -> None:
    document = terraform_plan_document(prod_plan)
    logging, logging_config = _resources(document, "aws_s3_bucket_logging.data-lake-raw-access-logging")
    assert "bucket" not in logging["values"] and "target_bucket" not in logging["values"]
    assert logging_config["expressions"]["bucket"]["references"] == [
        "aws_s3_bucket.data-lake-raw-bucket.id",
        "aws_s3_bucket.data-lake-raw-bucket",
    ]
    assert (
        logging_config["expressions"]["target_bucket"]["references"][1] == "aws_s3_bucket.data-lake-access-logs-bucket"
    )
    # The backup table and bucket share a name: the attribute's name picks the bucket.
    _, versioning = _resources(document, "aws_s3_bucket_versioning.backup-app-bucket-versioning")
    assert versioning["expressions"]["bucket"]["references"][1] == "aws_s3_bucket.backup-app-bucket"
    _, database = _resources(document, "aws_db_instance.backup-db")
    assert database["expressions"]["vpc_security_group_ids"]["references"][1] == "aws_security_group.backup-db-sg"


def test_the_eks_component_becomes_the_cluster_it_creates(prod_plan: PlanGraph) -> None:
    cluster, _ = _resources(terraform_plan_document(prod_plan), "aws_eks_cluster.eks-cluster")
    inputs = prod_plan.one("eks:index:Cluster").inputs
    assert cluster["values"]["encryption_config"] == [
        {"resources": ["secrets"], "provider": [{"key_arn": inputs["encryptionConfigKeyArn"]}]}
    ]
    assert cluster["values"]["vpc_config"][0]["public_access_cidrs"] == inputs["publicAccessCidrs"]
    assert set(cluster["values"]["enabled_cluster_log_types"]) >= {"api", "audit", "authenticator"}


# -- the skips file --------------------------------------------------------------------------------

REASON = "The function only calls AWS APIs over IAM, so a VPC isolates nothing here."


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"check": "CKV_AWS_117", "resources": ["f"]}, r"'reason' must say why"),
        ({"check": "CKV_AWS_117", "resources": ["f"], "reason": "because"}, r"'reason' must say why"),
        ({"check": "CKV_AWS_117", "resources": [], "reason": REASON}, r"'resources' must list"),
        ({"check": "CKV_AWS_117", "reason": REASON}, r"'resources' must list"),
        ({"check": "CKV_AWS_117", "resources": ["orders-*"], "reason": REASON}, r"no wildcards"),
        ({"check": "117", "resources": ["f"], "reason": REASON}, r"'check' must be a checkov AWS check id"),
        ({"check": "CKV_AWS_117", "resources": ["f"], "reason": REASON, "stacks": "dev"}, r"'stacks' must list"),
        ({"check": "CKV_AWS_117", "resources": ["f"], "reason": REASON, "until": "2027"}, r"unknown keys \['until'\]"),
    ],
)
def test_a_skip_without_check_resources_or_reason_is_an_error(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(CheckovSetupError, match=problem):
        parse_skips({"skips": [entry]})


def test_a_check_skipped_twice_on_one_resource_is_an_error() -> None:
    entry = {"check": "CKV_AWS_117", "resources": ["f"], "reason": REASON}
    with pytest.raises(CheckovSetupError, match="CKV_AWS_117 on f is skipped twice"):
        parse_skips({"skips": [entry, entry]})


def _checkov_result(check: str, address: str) -> dict[str, str]:
    return {"check_id": check, "check_name": "title", "resource": address, "resource_address": address}


def test_judge_skips_only_the_named_check_on_the_named_resource_in_the_named_stacks() -> None:
    names = {"aws_lambda_function.a": "a-function", "aws_lambda_function.b": "b-function"}
    report = {
        "results": {
            "passed_checks": [_checkov_result("CKV_AWS_45", "aws_lambda_function.a")],
            "failed_checks": [
                _checkov_result("CKV_AWS_117", "aws_lambda_function.a"),
                _checkov_result("CKV_AWS_117", "aws_lambda_function.b"),
                _checkov_result("CKV_AWS_272", "aws_lambda_function.a"),
            ],
        }
    }
    skips = [
        Skip("CKV_AWS_117", ("a-function",), REASON),
        Skip("CKV_AWS_272", ("a-function",), REASON, stacks=("prod",)),
        Skip("CKV_AWS_116", ("b-function",), REASON),
    ]
    dev = judge("dev", report, names, skips)
    assert [(f.check, f.resource) for f in dev.failed] == [("CKV_AWS_117", "b-function"), ("CKV_AWS_272", "a-function")]
    assert [(f.check, f.resource) for f, _ in dev.skipped] == [("CKV_AWS_117", "a-function")]
    assert dev.unmatched_skips == [("CKV_AWS_116", "b-function")]
    assert dev.summary == "checkov dev: 1 passed, 2 failed, 1 skipped"
    assert len(judge("prod", report, names, skips).skipped) == 2


def test_the_reviewed_skips_file_is_valid_and_every_reason_is_written_once() -> None:
    skips = load_skips()
    assert skips, f"{SKIPS_FILE} lists no skips"
    raw = yaml.safe_load(SKIPS_FILE.read_text())["skips"]
    assert len(raw) == len({s.check for s in skips}), "one entry per check id"


def test_every_skip_names_resources_of_a_shipped_stack_where_the_check_fails(
    checkov_reports: dict[str, CheckovReport],
) -> None:
    failing = {(f.check, f.resource) for report in checkov_reports.values() for f, _ in report.skipped}
    stale = sorted((s.check, r) for s in load_skips() for r in s.resources if (s.check, r) not in failing)
    assert stale == [], "skips of resources in no stack, or of checks that pass there: remove them"


# -- the shipped stacks ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", SHIPPED)
def test_checkov_finds_no_failure_beyond_the_pending_ones(
    stack: str, checkov_reports: dict[str, CheckovReport]
) -> None:
    report = checkov_reports[stack]
    assert report.passed, "checkov judged nothing: is the plan empty?"
    failed = {(f.check, f.resource) for f in report.failed}
    assert failed - PENDING[stack] == set(), "new checkov failures"
    assert PENDING[stack] - failed == set(), "fixed: remove these from PENDING"
    assert report.summary == (
        f"checkov {stack}: {len(report.passed)} passed, {len(PENDING[stack])} failed, {len(report.skipped)} skipped"
    )


def test_findings_name_the_logical_resources_of_the_stack(
    request: pytest.FixtureRequest, checkov_reports: dict[str, CheckovReport]
) -> None:
    for plan in shipped_plans(request):
        report = checkov_reports[plan.stack]
        findings = [*report.passed, *report.failed, *(f for f, _ in report.skipped)]
        assert {f.resource for f in findings} <= {r.name for r in plan.resources}, plan.stack
