"""Stack policies: relations between resources (a bucket and its settings, a function and its triggers)."""

from __future__ import annotations

import pytest

from offline.runner import PlanGraph
from tests.policy.conftest import check, messages, mutated, set_path

BUCKET_SETTINGS = {
    "raw-encryption": "has no SSE-KMS encryption configuration",
    "raw-public-access": "has no public access block",
    "raw-policy": "has no TLS-only bucket policy",
    "raw-versioning": "holds data but has no versioning configuration",
    "raw-lifecycle": "(raw or results) has no lifecycle configuration",
}


def _without(graph: PlanGraph, name: str) -> PlanGraph:
    return PlanGraph(graph.stack, [r for r in graph.resources if r.name != name], graph.outputs)


def test_buckets_with_every_setting_pass(baseline: PlanGraph, prod_plan: PlanGraph) -> None:
    for graph in (baseline, prod_plan):
        assert [r for r in graph.resources if r.type == "aws:s3/bucket:Bucket"]
        assert messages(check(graph, "s3-bucket-baseline"), "s3-bucket-baseline") == []


@pytest.mark.parametrize(("setting", "expected"), sorted(BUCKET_SETTINGS.items()))
def test_a_bucket_missing_a_setting_is_reported_on_the_bucket(baseline: PlanGraph, setting: str, expected: str) -> None:
    report = check(_without(baseline, setting), "s3-bucket-baseline")
    assert messages(report, "s3-bucket-baseline", "raw-bucket") == [f"bucket platform-prod-guard-raw {expected}"]


def test_results_buckets_need_no_versioning_but_a_lifecycle(baseline: PlanGraph) -> None:
    report = check(
        _without(_without(baseline, "athena-results-versioning"), "athena-results-lifecycle"), "s3-bucket-baseline"
    )
    assert messages(report, "s3-bucket-baseline", "athena-results-bucket") == [
        "bucket platform-prod-guard-athena-results (raw or results) has no lifecycle configuration"
    ]


def test_a_tls_policy_that_forgets_the_objects_does_not_count(baseline: PlanGraph) -> None:
    policy = next(r for r in baseline.resources if r.name == "raw-policy")
    document = policy.inputs["policy"].replace(', "arn:aws:s3:::platform-prod-guard-raw/*"', "")
    assert document != policy.inputs["policy"]

    report = check(mutated(baseline, policy, set_path("policy", document)), "s3-bucket-baseline")
    assert messages(report, "s3-bucket-baseline", "raw-bucket") == [
        "bucket platform-prod-guard-raw has no TLS-only bucket policy"
    ]


def test_async_function_with_a_dead_letter_queue_passes(baseline: PlanGraph) -> None:
    assert (
        messages(
            check(baseline, "lambda-async-sources-failure-destination"), "lambda-async-sources-failure-destination"
        )
        == []
    )


def test_async_function_without_dlq_or_destination_is_reported(baseline: PlanGraph) -> None:

    function = next(r for r in baseline.resources if r.name == "guard-worker-function")
    graph = _without(mutated(baseline, function, set_path("deadLetterConfig", None)), "guard-invoke-config")
    assert messages(
        check(graph, "lambda-async-sources-failure-destination"), "lambda-async-sources-failure-destination"
    ) == [
        "function guard-worker-function is invoked asynchronously by guard-permission, guard-target but has neither "
        "a dead-letter queue nor an on-failure destination"
    ]


def test_an_invoke_config_with_on_failure_destination_is_enough(baseline: PlanGraph) -> None:

    function = next(r for r in baseline.resources if r.name == "guard-worker-function")
    graph = mutated(baseline, function, set_path("deadLetterConfig", None))
    assert (
        messages(check(graph, "lambda-async-sources-failure-destination"), "lambda-async-sources-failure-destination")
        == []
    )


# The same relations on what the components really build (prod stack, all components enabled).
PROD_RAW_SETTINGS = {
    "data-lake-raw-encryption": "has no SSE-KMS encryption configuration",
    "data-lake-raw-public-access-block": "has no public access block",
    "data-lake-raw-policy": "has no TLS-only bucket policy",
    "data-lake-raw-versioning": "holds data but has no versioning configuration",
    "data-lake-raw-lifecycle": "(raw or results) has no lifecycle configuration",
}
ASYNC = "lambda-async-sources-failure-destination"


@pytest.mark.parametrize(("setting", "expected"), sorted(PROD_RAW_SETTINGS.items()))
def test_a_data_lake_bucket_missing_a_setting_is_reported(prod_plan: PlanGraph, setting: str, expected: str) -> None:
    assert [r.name for r in prod_plan.resources if r.name == setting] == [setting]
    bucket = prod_plan.one("aws:s3/bucket:Bucket", "data-lake-raw-bucket").inputs["bucket"]
    report = check(_without(prod_plan, setting), "s3-bucket-baseline")
    assert messages(report, "s3-bucket-baseline") == [f"bucket {bucket} {expected}"]


@pytest.mark.parametrize(
    ("function", "sources"),
    [
        ("backup-validate-function", "backup-validate-invoke, backup-validate-target"),
        ("data-lake-ingestion-trigger-function", "data-lake-raw-bucket-invoke, data-lake-raw-notifications"),
    ],
)
def test_a_component_function_invoked_asynchronously_without_its_dlq_is_reported(
    prod_plan: PlanGraph, function: str, sources: str
) -> None:
    assert messages(check(prod_plan, ASYNC), ASYNC) == []
    resource = prod_plan.one("aws:lambda/function:Function", function)
    assert resource.inputs["deadLetterConfig"]["targetArn"]
    graph = mutated(prod_plan, resource, set_path("deadLetterConfig", None))
    assert messages(check(graph, ASYNC), ASYNC) == [
        f"function {function} is invoked asynchronously by {sources} but has neither a dead-letter queue nor an "
        "on-failure destination"
    ]
