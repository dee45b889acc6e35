"""The ETL orchestration definition, run by moto's Step Functions interpreter against moto's Glue,
S3 and EventBridge: crawlers and job runs succeeding, failing, already running and never finishing.
(moto_sfn_fixes.py fixes three interpreter defects this definition meets.)

What stands in for the Glue runtime here (moto's Glue has none):
* a job run ends SUCCEEDED, after writing the row counts the real job writes to its
  `--run-summary-key` (the same `QualityReport.counts()`), or FAILED for the jobs a test makes fail;
* a crawl ends COMPLETED, which moto reports as LastCrawl.Status `COMPLETED` where the Glue API says
  `SUCCEEDED` (LastCrawlInfo.Status is SUCCEEDED | CANCELLED | FAILED): mapped back here; or FAILED.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.glue.models import FakeCrawler, GlueBackend
from moto.moto_api import state_manager

from components.data_lake import orchestration
from glue.etl.quality import QualityReport
from tests.conftest import FAKE_CREDENTIALS
from tests.data_lake import moto_sfn_fixes

REGION = "eu-west-1"
ACCOUNT = "123456789012"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}
BUCKET = "lake-processed"
RAW_CRAWLERS = ["lake-customers-crawler", "lake-transactions-crawler", "lake-products-crawler"]
PROCESSED_CRAWLERS = ["lake-processed-crawler"]
CUSTOMER_JOB, SALES_JOB = "lake-customer-transform", "lake-sales-aggregation"
COUNTS = {
    CUSTOMER_JOB: QualityReport("customers", total=10, passed=8, rejected={"email without @": 2}),
    SALES_JOB: QualityReport("transactions", total=100, passed=97, rejected={"unknown product_id": 3}),
}


@dataclass
class GlueRuntime:
    """What happens to started job runs and crawls (see module docstring)."""

    failing_jobs: set[str] = field(default_factory=set)
    failing_crawlers: set[str] = field(default_factory=set)
    job_arguments: dict[str, dict[str, str]] = field(default_factory=dict)

    def start_job_run(self, original, backend: GlueBackend, name: str, arguments, *args, **kwargs) -> str:
        run_id = original(backend, name, arguments, *args, **kwargs)
        self.job_arguments[name] = dict(arguments or {})
        run = backend.get_job_run(name, run_id)
        if name in self.failing_jobs:
            run._transitions = [("STARTING", "RUNNING"), ("RUNNING", "FAILED")]
        else:
            key = (arguments or {})["--run-summary-key"]
            body = json.dumps(COUNTS[name].counts(), sort_keys=True)
            boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=body.encode())
        return run_id

    def start_crawler(self, original, backend: GlueBackend, name: str) -> None:
        original(backend, name)
        if name in self.failing_crawlers:
            backend.get_crawler(name).crawls[-1]._transitions = [("RUNNING", "FAILED")]


def crawler_as_api_reports_it(original, crawler: FakeCrawler) -> dict[str, Any]:
    described = original(crawler)
    if described.get("LastCrawl", {}).get("Status") == "COMPLETED":
        described["LastCrawl"]["Status"] = "SUCCEEDED"
    return described


@dataclass
class Lake:
    state_machine_arn: str
    queue_url: str
    runtime: GlueRuntime

    @property
    def sfn(self) -> Any:
        return boto3.client("stepfunctions", region_name=REGION)

    @property
    def glue(self) -> Any:
        return boto3.client("glue", region_name=REGION)

    def refresh(self, timeout: float = 60.0) -> dict[str, Any]:
        arn = self.sfn.start_execution(stateMachineArn=self.state_machine_arn, name=f"refresh-{uuid.uuid4().hex[:8]}")[
            "executionArn"
        ]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.1)
        raise TimeoutError(f"{arn} still running after {timeout}s")

    def history(self, execution: dict[str, Any]) -> list[dict[str, Any]]:
        return self.sfn.get_execution_history(executionArn=execution["executionArn"])["events"]

    def entered(self, execution: dict[str, Any]) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"] for e in self.history(execution) if "stateEnteredEventDetails" in e
        ]

    def crawls(self, crawler: str) -> int:
        return len(self.glue.list_crawls(CrawlerName=crawler)["Crawls"])

    def announcements(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]


SETTINGS = orchestration.OrchestrationSettings(
    raw_crawlers=RAW_CRAWLERS,
    processed_crawlers=PROCESSED_CRAWLERS,
    customer_job=CUSTOMER_JOB,
    sales_job=SALES_JOB,
    summary_bucket=BUCKET,
    crawler_poll_seconds=1,
    crawler_max_polls=4,
)


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
    for key, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    moto_sfn_fixes.apply(monkeypatch)
    runtime = GlueRuntime()
    starts_run, starts_crawl, describes = GlueBackend.start_job_run, GlueBackend.start_crawler, FakeCrawler.as_dict
    with (
        mock_aws(config=MOTO_CONFIG),
        mock.patch.object(
            GlueBackend, "start_job_run", lambda b, n, a, *r, **k: runtime.start_job_run(starts_run, b, n, a, *r, **k)
        ),
        mock.patch.object(GlueBackend, "start_crawler", lambda b, n: runtime.start_crawler(starts_crawl, b, n)),
        mock.patch.object(FakeCrawler, "as_dict", lambda c: crawler_as_api_reports_it(describes, c)),
    ):
        # moto's default keeps a crawl RUNNING until something advances it by hand; Glue finishes it
        state_manager.set_transition("glue::crawl", {"progression": "immediate"})
        glue = boto3.client("glue", region_name=REGION)
        glue.create_database(DatabaseInput={"Name": "lake"})
        role = f"arn:aws:iam::{ACCOUNT}:role/lake-glue"
        for crawler in RAW_CRAWLERS + PROCESSED_CRAWLERS:
            glue.create_crawler(
                Name=crawler, Role=role, DatabaseName="lake", Targets={"S3Targets": [{"Path": "s3://raw/x/"}]}
            )
        for job in (CUSTOMER_JOB, SALES_JOB):
            glue.create_job(
                Name=job, Role=role, Command={"Name": "glueetl", "ScriptLocation": f"s3://{BUCKET}/{job}.py"}
            )
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
        queue = sqs.create_queue(QueueName="lake-refreshed-probe")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        pattern = {"source": [orchestration.EVENT_SOURCE], "detail-type": [orchestration.LAKE_REFRESHED]}
        events.put_rule(Name="lake-refreshed", EventPattern=json.dumps(pattern))
        events.put_targets(Rule="lake-refreshed", Targets=[{"Id": "probe", "Arn": queue_arn}])
        machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="lake-etl",
            definition=orchestration.render_orchestration(SETTINGS),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/lake-etl",
        )["stateMachineArn"]
        yield Lake(machine, queue, runtime)
        # A failed branch leaves its sibling iterations polling: stop them before the account goes away.
        sfn = boto3.client("stepfunctions", region_name=REGION)
        for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
            if execution["status"] == "RUNNING":
                sfn.stop_execution(executionArn=execution["executionArn"])
        state_manager.unset_transition("glue::crawl")


def test_orchestration_refreshes_the_lake_and_announces_row_counts(lake: Lake):
    execution = lake.refresh()
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert {crawler: lake.crawls(crawler) for crawler in RAW_CRAWLERS + PROCESSED_CRAWLERS} == dict.fromkeys(
        RAW_CRAWLERS + PROCESSED_CRAWLERS, 1
    )
    name = execution["executionArn"].rsplit(":", 1)[-1]
    assert lake.runtime.job_arguments == {
        CUSTOMER_JOB: {"--run-summary-key": f"runs/{name}/customer-transform.json"},
        SALES_JOB: {"--run-summary-key": f"runs/{name}/sales-aggregation.json"},
    }
    entered = lake.entered(execution)
    assert entered.index("RunCustomerTransform") > max(i for i, s in enumerate(entered) if s == "CrawlRawFeeds")
    [event] = lake.announcements()
    assert (event["source"], event["detail-type"]) == (orchestration.EVENT_SOURCE, orchestration.LAKE_REFRESHED)
    assert event["detail"] == {
        "execution": name,
        "rowCounts": {
            "customers": {"read": 10, "accepted": 8, "rejected": 2, "rejectedByReason": {"email without @": 2}},
            "transactions": {"read": 100, "accepted": 97, "rejected": 3, "rejectedByReason": {"unknown product_id": 3}},
        },
    }


def test_orchestration_failed_job_run_fails_at_its_task_so_the_execution_can_be_redriven(lake: Lake):
    lake.runtime.failing_jobs.add(SALES_JOB)
    execution = lake.refresh()
    assert execution["status"] == "FAILED"
    assert execution["error"] == "States.TaskFailed"
    causes = [e["taskFailedEventDetails"]["cause"] for e in lake.history(execution) if e["type"] == "TaskFailed"]
    job_runs = [json.loads(cause)["JobName"] for cause in causes if cause.startswith("{")]
    assert job_runs == [SALES_JOB]
    # When the failed branch stops the Parallel state, moto's interpreter may fail the sibling branch's
    # in-flight aws-sdk task with an internal error (Step Functions just stops it); nothing else fails.
    assert all(cause.startswith("{") or "object has no attribute" in cause for cause in causes), causes
    assert "CrawlProcessedTables" not in lake.entered(execution)
    assert lake.crawls(PROCESSED_CRAWLERS[0]) == 0
    assert lake.announcements() == []


def test_orchestration_failed_crawl_stops_before_the_jobs(lake: Lake):
    lake.runtime.failing_crawlers.add("lake-products-crawler")
    execution = lake.refresh()
    assert (execution["status"], execution["error"]) == ("FAILED", "CrawlFailed")
    assert "lake-products-crawler ended its last crawl with FAILED" in execution["cause"]
    assert lake.runtime.job_arguments == {}
    assert lake.announcements() == []


def test_orchestration_waits_for_a_crawler_already_running_without_starting_it_again(lake: Lake):
    state_manager.set_transition("glue::crawl", {"progression": "time", "seconds": 2})
    lake.glue.start_crawler(Name="lake-customers-crawler")
    execution = lake.refresh()
    assert execution["status"] == "SUCCEEDED", execution.get("cause")
    assert lake.crawls("lake-customers-crawler") == 1  # the one already running, not a second crawl
    assert lake.entered(execution).count("WaitForCrawl") > len(RAW_CRAWLERS + PROCESSED_CRAWLERS)


def test_orchestration_gives_up_on_a_crawl_that_never_finishes(lake: Lake):
    state_manager.set_transition("glue::crawl", {"progression": "time", "seconds": 3600})
    execution = lake.refresh()
    assert (execution["status"], execution["error"]) == ("FAILED", "CrawlTimedOut")
    assert f"after {SETTINGS.crawler_max_polls} polls" in execution["cause"]


def catches(document: Any) -> list[list[str]]:
    if isinstance(document, dict):
        found = [c["ErrorEquals"] for c in document.get("Catch", [])]
        return found + [e for value in document.values() for e in catches(value)]
    if isinstance(document, list):
        return [e for value in document for e in catches(value)]
    return []


def test_orchestration_catches_no_infrastructure_error():
    definition = json.loads(orchestration.render_orchestration(SETTINGS))
    # "already running" is an expected outcome of starting a crawler, not an error
    assert catches(definition) == [["Glue.CrawlerRunningException"]] * 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"raw_crawlers": []}, "raw_crawlers is empty"),
        ({"crawler_poll_seconds": 0}, "crawler_poll_seconds must be at least 1"),
        ({"crawler_concurrency": 50}, "crawler_concurrency must be 1..10"),
    ],
)
def test_orchestration_settings_name_what_is_wrong(change, message):
    values = {**SETTINGS.__dict__, **change}
    with pytest.raises(ValueError, match=message):
        orchestration.OrchestrationSettings(**values)


def test_orchestration_queues_a_job_run_behind_one_already_running():
    """A second refresh (several new objects arrive together) waits for the job's single run slot
    instead of failing: Glue allows one run per job, so the start is retried for about two hours."""
    definition = json.loads(orchestration.render_orchestration(SETTINGS))
    for branch in definition["States"]["RunJobs"]["Branches"]:
        [retry] = branch["States"][branch["StartAt"]]["Retry"]
        assert retry["ErrorEquals"] == ["Glue.ConcurrentRunsExceededException"]
        waits, delay = [], retry["IntervalSeconds"]
        for _ in range(retry["MaxAttempts"]):
            waits.append(min(delay, retry["MaxDelaySeconds"]))
            delay *= retry["BackoffRate"]
        assert 2 * 3600 <= sum(waits) <= 3 * 3600
