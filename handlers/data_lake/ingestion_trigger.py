"""Ingestion trigger: S3 `ObjectCreated` under `raw/` -> start the crawler of that feed.

Keys arrive URL-encoded (`+` for spaces, `%XX` for UTF-8 bytes) and are decoded before routing. A
crawler that is already running will pick the new object up, so that is success; an object outside
every feed prefix is logged and ignored; a crawler that cannot be started (missing, access denied)
fails the invocation after every record was tried, so Lambda retries it and then dead-letters it.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from handlers.common import aws
from handlers.common.log import get_logger

LOGGER = get_logger("data_lake.ingestion_trigger")
# StartCrawler answers in well under a second; throttles are retried by the client (4 sends at most).
GLUE_CALLS = aws.CallPolicy(attempts=4, connect_timeout=2.0, read_timeout=10.0)


class CrawlerStartError(RuntimeError):
    """At least one crawler could not be started; the message names each one and why."""


@dataclass(frozen=True)
class CreatedObject:
    bucket: str
    key: str


@dataclass
class TriggerOutcome:
    started: list[str] = field(default_factory=list)
    already_running: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def parse_records(event: Mapping[str, Any]) -> list[CreatedObject]:
    """The objects of an S3 notification event, keys decoded."""
    records = event.get("Records")
    if not isinstance(records, list):
        raise ValueError("event has no Records list; expected an S3 notification event")
    return [
        CreatedObject(
            bucket=record["s3"]["bucket"]["name"],
            key=urllib.parse.unquote_plus(record["s3"]["object"]["key"], encoding="utf-8", errors="strict"),
        )
        for record in records
    ]


def parse_routes(text: str) -> dict[str, str]:
    """`CRAWLER_ROUTES`: a JSON object of key prefix (ending in `/`) -> crawler name."""
    routes = json.loads(text)
    if not isinstance(routes, dict) or not routes:
        raise ValueError("CRAWLER_ROUTES must be a non-empty JSON object of prefix -> crawler name")
    for prefix, crawler in routes.items():
        if not prefix.endswith("/") or not isinstance(crawler, str) or not crawler:
            raise ValueError(f"CRAWLER_ROUTES entry {prefix!r} -> {crawler!r}: prefix must end in / and name a crawler")
    return routes


def crawler_for(key: str, routes: Mapping[str, str]) -> str | None:
    """The crawler whose prefix is the longest one the key starts with."""
    matches = [prefix for prefix in routes if key.startswith(prefix)]
    return routes[max(matches, key=len)] if matches else None


def start_crawler(glue: Any, name: str) -> bool:
    """Start the crawler; False when it was already running (the new object will be crawled)."""
    try:
        glue.start_crawler(Name=name)
    except glue.exceptions.CrawlerRunningException:
        return False
    return True


def trigger_crawlers(objects: Iterable[CreatedObject], routes: Mapping[str, str], glue: Any) -> TriggerOutcome:
    """Start each needed crawler once, whatever the number of objects for it."""
    outcome = TriggerOutcome()
    wanted: dict[str, list[str]] = {}
    for obj in objects:
        crawler = crawler_for(obj.key, routes)
        if crawler is None:
            LOGGER.info("no crawler for this key; ignored", extra={"bucket": obj.bucket, "key": obj.key})
            outcome.ignored.append(obj.key)
        else:
            wanted.setdefault(crawler, []).append(obj.key)
    for crawler, keys in wanted.items():
        try:
            started = start_crawler(glue, crawler)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Unknown")
            LOGGER.error("could not start crawler", extra={"crawler": crawler, "code": code, "keys": keys})
            outcome.failed[crawler] = code
            continue
        (outcome.started if started else outcome.already_running).append(crawler)
        LOGGER.info(
            "crawler started" if started else "crawler already running; it will pick the objects up",
            extra={"crawler": crawler, "keys": keys},
        )
    return outcome


@cache
def _glue() -> Any:
    return aws.client("glue", GLUE_CALLS)


@cache
def _routes() -> dict[str, str]:
    return parse_routes(os.environ["CRAWLER_ROUTES"])


def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    outcome = trigger_crawlers(parse_records(event), _routes(), _glue())
    if outcome.failed:
        problems = ", ".join(f"{crawler}: {code}" for crawler, code in sorted(outcome.failed.items()))
        raise CrawlerStartError(f"could not start crawlers ({problems})")
    return {"started": outcome.started, "alreadyRunning": outcome.already_running, "ignored": outcome.ignored}
