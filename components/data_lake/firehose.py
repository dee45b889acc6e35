"""The platform's events in the lake: EventBridge -> Kinesis Data Firehose -> `raw/events/` (plain data).

Firehose dynamic partitioning evaluates `PARTITION_QUERY` (JQ) on each event and renders
`EVENTS_PREFIX` with the keys it extracted, so objects land in Hive-style folders
`raw/events/event_source=<source>/event_date=<yyyy-MM-dd>/` that the events crawler turns into the
`raw_events` table partitioned by source and event date (the event's own time, not its arrival).
Records Firehose cannot partition or deliver go under `EVENTS_ERROR_PREFIX`, outside the crawled tree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from glue.etl.tables import RAW_PREFIX, RAW_TABLE_PREFIX

EVENTS_NAME = "events"
EVENTS_ROOT = f"{RAW_PREFIX}{EVENTS_NAME}/"
EVENTS_TABLE = f"{RAW_TABLE_PREFIX}{EVENTS_NAME}"
# Not `source`/`date`: a partition key named like a column of the event makes the crawled table
# unreadable (duplicate column), and `date` is a reserved word in Athena.
PARTITION_KEYS = ("event_source", "event_date")
PARTITION_QUERY = "{event_source: .source, event_date: .time[0:10]}"
EVENTS_PREFIX = f"{EVENTS_ROOT}event_source=!{{partitionKeyFromQuery:event_source}}/event_date=!{{partitionKeyFromQuery:event_date}}/"
EVENTS_ERROR_PREFIX = f"{RAW_PREFIX}events-errors/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/"
# One event per line, so the crawler's JSON classifier and Athena read one row per event.
RECORD_DELIMITER = "\\n"

_PARTITION_KEY = re.compile(r"!\{partitionKeyFromQuery:([A-Za-z_]+)\}")


def render_prefix(template: str, keys: Mapping[str, str]) -> str:
    """The S3 prefix Firehose writes an event to, given the keys the JQ query extracted from it."""
    missing = sorted(set(_PARTITION_KEY.findall(template)) - set(keys))
    if missing:
        raise ValueError(f"partition keys {missing} not extracted; the query yields {sorted(keys)}")
    return _PARTITION_KEY.sub(lambda match: str(keys[match.group(1)]), template)
