"""components/storage.py: the shared secure S3 bucket, checked on the inputs it sends."""

from __future__ import annotations

import json
from dataclasses import replace

import pulumi
import pytest

from components.config import load_stack_config
from components.context import StackContext
from components.iam import Statement
from components.storage import BucketNames, LifecycleRule, SecureBucket
from offline.mocks import ACCOUNT_ID
from offline.policy_run import evaluate
from offline.runner import PlanGraph, run_program
from tests.conftest import stack_config

KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT_ID}:key/00000000-0000-0000-0000-000000000003"
BUCKET = "aws:s3/bucket:Bucket"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
LOGGING = "aws:s3/bucketLogging:BucketLogging"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


def storage_program() -> None:
    ctx = StackContext.create(load_stack_config())
    opts = pulumi.ResourceOptions(provider=ctx.primary)

    def reader(arn: pulumi.Output[str]) -> list[Statement]:
        return [
            Statement(
                sid="ReadObjects",
                principals={"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
                actions=["s3:GetObject"],
                resources=[pulumi.Output.concat(arn, "/*")],
            )
        ]

    logs = SecureBucket(
        "demo-logs", ctx, component="demo", purpose="logs", kms_key_arn=KEY_ARN, policy_statements=reader, opts=opts
    )
    SecureBucket(
        "demo-data",
        ctx,
        component="demo",
        purpose="data",
        kms_key_arn=KEY_ARN,
        lifecycle=[LifecycleRule("tiering", "raw/", transitions=((30, "STANDARD_IA"),), expiration_days=365)],
        noncurrent_version_expiration_days=14,
        access_log_bucket=logs,
        opts=opts,
    )
    SecureBucket(
        "demo-kept",
        ctx,
        component="demo",
        purpose="kept",
        kms_key_arn=KEY_ARN,
        tags={"BackupEnabled": "true"},
        enforce_ownership=False,
        force_destroy_outside_prod=False,
        names=BucketNames(bucket="", public_access_block="-public-access", policy="-tls-only"),
        opts=opts,
    )


@pytest.fixture(scope="module", params=["dev", "prod"])
def storage_plan(request: pytest.FixtureRequest) -> PlanGraph:
    return run_program(request.param, stack_config(request.param), program=storage_program)


def of_bucket(plan: PlanGraph, type_token: str, bucket: str) -> list[str]:
    bucket_id = plan.one(BUCKET, bucket).id
    return sorted(r.name for r in plan.of_type(type_token) if r.inputs.get("bucket") == bucket_id)


def test_bucket_is_named_per_component_protected_in_prod_and_force_destroyed_elsewhere(storage_plan) -> None:
    data = storage_plan.one(BUCKET, "demo-data-bucket")
    region = {"dev": "eu-west-1", "prod": "us-east-1"}[storage_plan.stack]
    # S3 names are global: the account id and region keep two accounts' stacks apart.
    assert data.inputs["bucket"] == f"platform-{storage_plan.stack}-demo-data-123456789012-{region}"
    assert data.inputs["forceDestroy"] is (storage_plan.stack != "prod")
    assert {b.protect for b in storage_plan.of_type(BUCKET)} == {storage_plan.stack == "prod"}


def test_every_bucket_is_versioned_kms_encrypted_private_and_tls_only(storage_plan: PlanGraph) -> None:
    for bucket in ("demo-logs-bucket", "demo-data-bucket", "demo-kept"):
        resource = storage_plan.one(BUCKET, bucket)
        assert of_bucket(storage_plan, "aws:s3/bucketVersioning:BucketVersioning", bucket) != []
        [encryption] = [
            r.inputs["rules"]
            for r in storage_plan.of_type(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
            )
            if r.inputs["bucket"] == resource.id
        ]
        assert encryption == [
            {
                "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN},
                "bucketKeyEnabled": True,
            }
        ]
        [block] = [r for r in storage_plan.of_type(BLOCK) if r.inputs["bucket"] == resource.id]
        assert all(
            block.inputs[k] is True
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        [policy] = [r for r in storage_plan.of_type(POLICY) if r.inputs["bucket"] == resource.id]
        assert block.urn in policy.depends_on
        deny = {s["Sid"]: s for s in json.loads(policy.inputs["policy"])["Statement"]}["DenyInsecureTransport"]
        arn = resource.outputs["arn"]
        assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*"
        assert deny["Resource"] == [arn, f"{arn}/*"]
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_extra_policy_statements_follow_the_tls_rule(storage_plan: PlanGraph) -> None:
    policy = json.loads(storage_plan.one(POLICY, "demo-logs-policy").inputs["policy"])
    arn = storage_plan.one(BUCKET, "demo-logs-bucket").outputs["arn"]
    assert [s["Sid"] for s in policy["Statement"]] == ["DenyInsecureTransport", "ReadObjects"]
    assert policy["Statement"][1]["Resource"] == f"{arn}/*"


def test_lifecycle_renders_the_rules_then_housekeeping(storage_plan: PlanGraph) -> None:
    lifecycle = storage_plan.one(LIFECYCLE, "demo-data-lifecycle")
    tiering, housekeeping = lifecycle.inputs["rules"]
    assert tiering == {
        "id": "tiering",
        "status": "Enabled",
        "filter": {"prefix": "raw/"},
        "transitions": [{"days": 30, "storageClass": "STANDARD_IA"}],
        "expiration": {"days": 365},
    }
    assert housekeeping["noncurrentVersionExpiration"] == {"noncurrentDays": 14}
    assert housekeeping["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}
    versioning = storage_plan.one("aws:s3/bucketVersioning:BucketVersioning", "demo-data-versioning")
    assert versioning.urn in lifecycle.depends_on


def test_access_logs_go_to_the_log_bucket_under_the_purpose_prefix(storage_plan: PlanGraph) -> None:
    [logging] = storage_plan.of_type(LOGGING)
    assert logging.name == "demo-data-access-logging"
    assert logging.inputs["bucket"] == storage_plan.one(BUCKET, "demo-data-bucket").id
    assert logging.inputs["targetBucket"] == storage_plan.one(BUCKET, "demo-logs-bucket").id
    assert logging.inputs["targetPrefix"] == "data/"
    assert storage_plan.one(POLICY, "demo-logs-policy").urn in logging.depends_on


def test_optional_parts_are_left_out_when_not_asked_for(storage_plan: PlanGraph) -> None:
    kept = storage_plan.one(BUCKET, "demo-kept")
    assert kept.inputs["tags"] == {"BackupEnabled": "true"}
    assert "forceDestroy" not in kept.inputs
    assert of_bucket(storage_plan, OWNERSHIP, "demo-kept") == []
    assert of_bucket(storage_plan, LIFECYCLE, "demo-kept") == []
    assert of_bucket(storage_plan, LIFECYCLE, "demo-logs-bucket") == []
    assert of_bucket(storage_plan, BLOCK, "demo-kept") == ["demo-kept-public-access"]
    assert of_bucket(storage_plan, POLICY, "demo-kept") == ["demo-kept-tls-only"]
    ownership = storage_plan.one(OWNERSHIP, "demo-data-ownership")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


# --- a target of S3 server access logs ------------------------------------------------------------


def access_log_program() -> None:
    ctx = StackContext.create(load_stack_config())
    opts = pulumi.ResourceOptions(provider=ctx.primary)
    logs = SecureBucket(
        "lake-access-logs",
        ctx,
        component="demo",
        purpose="access-logs",
        kms_key_arn=None,
        server_access_log_target=True,
        lifecycle=[LifecycleRule("expire-access-logs", "", expiration_days=365)],
        opts=opts,
    )
    SecureBucket(
        "lake-raw",
        ctx,
        component="demo",
        purpose="raw",
        kms_key_arn=KEY_ARN,
        lifecycle=[LifecycleRule("tiering", "", transitions=((30, "STANDARD_IA"),))],
        access_log_bucket=logs,
        opts=opts,
    )


@pytest.fixture(scope="module")
def access_log_plan() -> PlanGraph:
    return run_program("prod", stack_config("prod"), program=access_log_program)


def _default_encryption(plan: PlanGraph, bucket: str) -> dict:
    [config] = [r for r in plan.of_type(ENCRYPTION) if r.inputs["bucket"] == plan.one(BUCKET, f"{bucket}-bucket").id]
    [rule] = config.inputs["rules"]
    return rule


def test_an_access_log_target_uses_sse_s3_because_log_delivery_cannot_use_kms(access_log_plan: PlanGraph) -> None:
    assert _default_encryption(access_log_plan, "lake-access-logs") == {
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}
    }
    assert _default_encryption(access_log_plan, "lake-raw") == {
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": KEY_ARN},
        "bucketKeyEnabled": True,
    }
    [logging] = access_log_plan.of_type(LOGGING)
    assert logging.inputs["targetBucket"] == access_log_plan.one(BUCKET, "lake-access-logs-bucket").id


def test_an_access_log_target_lets_only_the_logging_service_of_this_account_write(access_log_plan: PlanGraph) -> None:
    bucket = access_log_plan.one(BUCKET, "lake-access-logs-bucket")
    document = json.loads(access_log_plan.one(POLICY, "lake-access-logs-policy").inputs["policy"])
    sids = [s.get("Sid") for s in document["Statement"]]
    assert sids == ["DenyInsecureTransport", "S3ServerAccessLogDelivery"]
    delivery = document["Statement"][1]
    assert delivery == {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{bucket.outputs['arn']}/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}},
    }
    data_policy = json.loads(access_log_plan.one(POLICY, "lake-raw-policy").inputs["policy"])
    assert [s.get("Sid") for s in data_policy["Statement"]] == ["DenyInsecureTransport"]


def test_the_pack_accepts_sse_s3_on_a_log_target_that_receives_logs_and_nothing_else(
    access_log_plan: PlanGraph,
) -> None:
    report = evaluate(access_log_plan)
    assert [v for v in report.violations if v.policy.startswith("s3-")] == []
    without_logging = replace(access_log_plan, resources=[r for r in access_log_plan.resources if r.type != LOGGING])
    problems = [v.message for v in evaluate(without_logging).violations if v.policy == "s3-bucket-baseline"]
    assert len(problems) == 1
    assert "uses SSE-S3, allowed only for a target of S3 server access logs" in problems[0]


@pytest.mark.parametrize(
    ("key", "target"), [(KEY_ARN, True), (None, False)], ids=["kms-key-on-a-log-target", "no-key-on-a-data-bucket"]
)
def test_sse_s3_is_for_log_targets_only_and_they_take_no_key(key: str | None, target: bool) -> None:
    # The arguments are checked before anything is declared, so no stack context is needed.
    with pytest.raises(ValueError, match="log delivery cannot write to an SSE-KMS bucket"):
        SecureBucket(
            "bad",
            None,  # type: ignore[arg-type]
            component="demo",
            purpose="access-logs",
            kms_key_arn=key,
            server_access_log_target=target,
            opts=pulumi.ResourceOptions(),
        )
