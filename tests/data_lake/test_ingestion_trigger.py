"""Ingestion trigger against moto Glue: decoding, routing, running and missing crawlers."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from handlers.data_lake import ingestion_trigger as trigger

REGION = "eu-west-1"
ROUTES = {
    "raw/customers/": "lake-customers",
    "raw/transactions/": "lake-transactions",
    "raw/products/": "lake-products",
}


def s3_event(*keys: str, bucket: str = "platform-dev-datalake-raw") -> dict:
    """An S3 notification as S3 sends it: keys URL-encoded with `+` for spaces."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": urllib.parse.quote_plus(key, safe="/")}},
            }
            for key in keys
        ]
    }


@pytest.fixture
def glue(monkeypatch) -> Iterator:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("CRAWLER_ROUTES", json.dumps(ROUTES))
    trigger._glue.cache_clear()
    trigger._routes.cache_clear()
    with mock_aws():
        client = boto3.client("glue", region_name=REGION)
        client.create_database(DatabaseInput={"Name": "lake"})
        for prefix, name in ROUTES.items():
            client.create_crawler(
                Name=name,
                Role="arn:aws:iam::123456789012:role/glue",
                DatabaseName="lake",
                Targets={"S3Targets": [{"Path": f"s3://platform-dev-datalake-raw/{prefix}"}]},
            )
        yield client
    trigger._glue.cache_clear()
    trigger._routes.cache_clear()


def crawler_state(glue, name: str) -> str:
    return glue.get_crawler(Name=name)["Crawler"]["State"]


def test_keys_with_spaces_and_unicode_are_decoded():
    event = s3_event("raw/customers/März 2024/kunden ünd più.csv")
    assert event["Records"][0]["s3"]["object"]["key"] == ("raw/customers/M%C3%A4rz+2024/kunden+%C3%BCnd+pi%C3%B9.csv")
    assert trigger.parse_records(event) == [
        trigger.CreatedObject("platform-dev-datalake-raw", "raw/customers/März 2024/kunden ünd più.csv")
    ]


def test_each_prefix_starts_its_own_crawler(glue):
    result = trigger.handler(s3_event("raw/customers/a b.csv", "raw/transactions/日本.csv", "raw/products/p.csv"), None)
    assert sorted(result["started"]) == ["lake-customers", "lake-products", "lake-transactions"]
    assert {name: crawler_state(glue, name) for name in ROUTES.values()} == dict.fromkeys(ROUTES.values(), "RUNNING")


def test_many_objects_of_one_feed_start_its_crawler_once(glue):
    result = trigger.handler(s3_event("raw/customers/1.csv", "raw/customers/2.csv"), None)
    assert result == {"started": ["lake-customers"], "alreadyRunning": [], "ignored": []}
    assert crawler_state(glue, "lake-products") == "READY"


def test_an_unknown_prefix_is_ignored_with_a_log_line(glue, caplog):
    logger = logging.getLogger("data_lake.ingestion_trigger")
    logger.addHandler(caplog.handler)
    try:
        result = trigger.handler(s3_event("raw/returns/r.csv", "raw/customersX/c.csv"), None)
    finally:
        logger.removeHandler(caplog.handler)
    assert result == {"started": [], "alreadyRunning": [], "ignored": ["raw/returns/r.csv", "raw/customersX/c.csv"]}
    ignored = [r for r in caplog.records if r.getMessage() == "no crawler for this key; ignored"]
    assert [r.key for r in ignored] == ["raw/returns/r.csv", "raw/customersX/c.csv"]
    assert all(crawler_state(glue, name) == "READY" for name in ROUTES.values())


def test_an_already_running_crawler_is_not_a_failure(glue):
    glue.start_crawler(Name="lake-transactions")
    result = trigger.handler(s3_event("raw/transactions/t.csv", "raw/products/p.csv"), None)
    assert result == {"started": ["lake-products"], "alreadyRunning": ["lake-transactions"], "ignored": []}


def test_a_missing_crawler_is_reported_after_the_others_started(glue):
    glue.delete_crawler(Name="lake-products")
    with pytest.raises(trigger.CrawlerStartError, match=r"lake-products: EntityNotFoundException"):
        trigger.handler(s3_event("raw/products/p.csv", "raw/customers/c.csv"), None)
    assert crawler_state(glue, "lake-customers") == "RUNNING"


def test_longest_prefix_wins():
    routes = {"raw/": "everything", "raw/customers/": "customers"}
    assert trigger.crawler_for("raw/customers/x.csv", routes) == "customers"
    assert trigger.crawler_for("raw/other/x.csv", routes) == "everything"
    assert trigger.crawler_for("landing/x.csv", routes) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{}", "non-empty JSON object"),
        ('{"raw/customers": "c"}', "prefix must end in /"),
        ('{"raw/customers/": ""}', "prefix must end in /"),
    ],
)
def test_bad_routes_are_rejected(text, message):
    with pytest.raises(ValueError, match=message):
        trigger.parse_routes(text)


def test_an_event_without_records_is_an_error():
    with pytest.raises(ValueError, match="no Records list"):
        trigger.parse_records({"detail": {}})
