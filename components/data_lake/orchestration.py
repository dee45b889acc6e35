"""The lake's ETL orchestration: an ASL document in `definitions/` and its deploy-time rendering.

`etl-orchestration.asl.json` crawls the raw feeds, runs the Glue jobs in parallel
(`glue:startJobRun.sync`), crawls the processed tables and announces `Lake Refreshed` with the row
counts the jobs wrote. Both crawl steps run the same per-crawler loop, `crawl-until-done.asl.json`,
which is rendered once and placed into each Map state. Values that differ per stack are whole-string
placeholders `"${Name}"` replaced by typed values (lists, numbers, the loop document).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.templates import render_document
from glue.etl.tables import RUN_SUMMARY_PREFIX

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
ORCHESTRATION_PATH = DEFINITIONS_DIR / "etl-orchestration.asl.json"
CRAWL_LOOP_PATH = DEFINITIONS_DIR / "crawl-until-done.asl.json"

EVENT_SOURCE = "platform.datalake"
LAKE_REFRESHED = "Lake Refreshed"
# Glue runs at most this many crawlers of an account at once by default; stay well inside it.
MAX_CRAWLER_CONCURRENCY = 10


@dataclass(frozen=True)
class OrchestrationSettings:
    """What one stack's refresh works on, and how patiently it polls crawlers."""

    raw_crawlers: Sequence[str]
    processed_crawlers: Sequence[str]
    customer_job: str
    sales_job: str
    summary_bucket: str
    event_bus: str = "default"
    crawler_poll_seconds: int = 30
    crawler_max_polls: int = 120
    crawler_concurrency: int = 4

    def __post_init__(self) -> None:
        problems = []
        if not self.raw_crawlers:
            problems.append("raw_crawlers is empty: nothing would be crawled before the jobs")
        if self.crawler_poll_seconds < 1:
            problems.append(f"crawler_poll_seconds must be at least 1, got {self.crawler_poll_seconds}")
        if self.crawler_max_polls < 1:
            problems.append(f"crawler_max_polls must be at least 1, got {self.crawler_max_polls}")
        if not 1 <= self.crawler_concurrency <= MAX_CRAWLER_CONCURRENCY:
            problems.append(f"crawler_concurrency must be 1..{MAX_CRAWLER_CONCURRENCY}, got {self.crawler_concurrency}")
        if problems:
            raise ValueError("; ".join(problems))


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def crawl_loop(settings: OrchestrationSettings) -> dict[str, Any]:
    return render_document(
        CRAWL_LOOP_PATH.name,
        load(CRAWL_LOOP_PATH),
        {"CrawlerPollSeconds": settings.crawler_poll_seconds, "CrawlerMaxPolls": settings.crawler_max_polls},
    )


def render_orchestration(settings: OrchestrationSettings) -> str:
    """The ASL JSON of the refresh with every placeholder replaced by its value."""
    values = {
        "RawCrawlerNames": list(settings.raw_crawlers),
        "ProcessedCrawlerNames": list(settings.processed_crawlers),
        "RunSummaryPrefix": RUN_SUMMARY_PREFIX,
        "RunSummaryBucket": settings.summary_bucket,
        "CrawlerConcurrency": settings.crawler_concurrency,
        "CrawlUntilDone": crawl_loop(settings),
        "CustomerJobName": settings.customer_job,
        "SalesJobName": settings.sales_job,
        "EventBusName": settings.event_bus,
        "EventSource": EVENT_SOURCE,
    }
    return json.dumps(render_document(ORCHESTRATION_PATH.name, load(ORCHESTRATION_PATH), values), indent=2)
