"""The DataLake component: S3 zones, Glue catalog, crawlers and Spark jobs, Athena, ingestion Lambdas,
and the refresh that runs them.

Flow: feeds land as CSV under `raw/<feed>/` in the raw bucket -> the ingestion trigger starts that
feed's crawler (table `raw_<feed>`) -> the refresh state machine (on a schedule and on new raw
objects) waits for the crawlers, runs the Glue jobs, which write Snappy Parquet under `processed/`
into catalog tables declared here, crawls their new partitions and announces `Lake Refreshed` ->
analysts query the tables through the Athena workgroup, whose named queries are the SQL files in
`sql/data_lake/`. Optionally the OrderWorkflow bus's events reach `raw/events/` through Firehose.

One module per concern, each a function taking the component's scope: buckets, catalog, etl (Glue
role, crawlers, jobs), ingestion, athena, alarms, orchestration (the refresh), firehose (events path).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.context import StackContext
from components.data_lake.alarms import alarms, alert_dlq_policy
from components.data_lake.args import DataLakeArgs
from components.data_lake.athena import athena
from components.data_lake.buckets import lake_buckets
from components.data_lake.catalog import catalog
from components.data_lake.etl import crawlers, glue_role, jobs, raw_crawler_settings
from components.data_lake.firehose import EventBusRef, EventsDelivery, deliver_events
from components.data_lake.ingestion import ingestion
from components.data_lake.orchestration import Refresh, RefreshInputs, refresh
from components.data_lake.queries import EVENTS_QUERIES_DIR, named_queries
from components.kms import EVENTBRIDGE_TO_ENCRYPTED_TOPIC
from components.scope import Scope, component_options

# Physical-name slug of a data lake unless the program gives another one.
COMPONENT = "datalake"


class DataLake(pulumi.ComponentResource):
    """Raw, processed and Athena-results buckets, the Glue catalog and jobs, the Athena workgroup, and
    the refresh orchestration."""

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        args: DataLakeArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        slug: str = COMPONENT,
        event_bus: EventBusRef | None = None,
    ) -> None:
        """`event_bus` (the OrderWorkflow bus) is required when `args.events_to_lake` is on."""
        if args.events_to_lake and event_bus is None:
            raise ValueError(f"{name}: eventsToLake is on but no event bus was given (the OrderWorkflow bus)")
        super().__init__("platform:index:DataLake", name, None, component_options(ctx, opts))
        scope = Scope.of(self, ctx, name, slug)
        self.key = scope.key(
            "data",
            description="Data lake: S3 objects, Glue bookmarks, Athena results, log groups, queues",
            # logs: encrypted log groups; cloudwatch and events: alarms and Glue state events reach the
            # encrypted alert topic (and its dead-letter queue).
            services=["logs", "cloudwatch", "events"],
            extra_statements=[EVENTBRIDGE_TO_ENCRYPTED_TOPIC],
        )
        key_arn = self.key.arn
        scope = scope.with_key(key_arn)
        self.buckets = lake_buckets(scope, args, key_arn)
        self.catalog = catalog(scope, args, key_arn, self.buckets.processed.name)
        self.glue = glue_role(scope, args, self.buckets, self.catalog, key_arn)
        self.crawlers = crawlers(scope, self.buckets, self.catalog, self.glue)
        self.jobs = jobs(scope, args, self.buckets, self.catalog, self.glue, key_arn)
        self.ingestion = ingestion(scope, args, self.buckets, self.crawlers, key_arn)
        self.alarms = alarms(scope, self.ingestion.trigger_dlq, self.jobs, self.crawlers)
        scope = self.alarms.scope
        self.events: EventsDelivery | None = None
        if event_bus is not None and args.events_to_lake:
            self.events = deliver_events(
                scope,
                event_bus,
                raw_bucket_arn=self.buckets.raw.arn,
                raw_bucket_name=self.buckets.raw.name,
                key_arn=key_arn,
                crawler=raw_crawler_settings(scope, self.catalog, self.glue),
                dead_letter_arn=self.alarms.alert_dlq.arn,
            )
        queries = named_queries() + (named_queries(EVENTS_QUERIES_DIR) if self.events else [])
        self.athena = athena(scope, args, self.buckets, self.catalog.database.name, key_arn, queries)
        self.refresh: Refresh = refresh(
            scope,
            RefreshInputs(
                raw_crawlers=[c.name for c in self.crawlers.raw.values()]
                + ([self.events.crawler.name] if self.events else []),
                processed_crawlers=[self.crawlers.processed.name],
                customer_job=self.jobs.customer.name,
                sales_job=self.jobs.sales.name,
                raw_bucket=self.buckets.raw.name,
                processed_bucket=self.buckets.processed.name,
                processed_bucket_arn=self.buckets.processed.arn,
                key_arn=key_arn,
                schedule=args.refresh_schedule,
                on_new_data=args.refresh_on_new_data,
                poll_seconds=args.crawler_poll_seconds,
                max_polls=args.crawler_max_polls,
                log_retention_days=args.glue_log_retention_days,
                dead_letter_arn=self.alarms.alert_dlq.arn,
            ),
        )
        rules = [*self.alarms.glue_failure_rules.values()]
        rules += [self.refresh.new_data_rule] if self.refresh.new_data_rule is not None else []
        rules += [self.events.rule] if self.events is not None else []
        alert_dlq_policy(scope, self.alarms.alert_dlq, rules)
        self.database_name = self.catalog.database.name
        self.register_outputs(self.stack_outputs())

    def stack_outputs(self) -> dict[str, Any]:
        buckets, sample = self.buckets, self.ingestion.sample_generator
        return {
            "rawBucket": buckets.raw.name,
            "processedBucket": buckets.processed.name,
            "athenaResultsBucket": buckets.results.name,
            "accessLogBucket": buckets.access_logs.name if buckets.access_logs else None,
            "database": self.catalog.database.name,
            "workgroup": self.athena.workgroup.name,
            "crawlers": dict(self.crawlers.raw_names),
            "jobs": {"customerTransform": self.jobs.customer.name, "salesAggregation": self.jobs.sales.name},
            "ingestionTrigger": self.ingestion.trigger.function.name,
            "sampleDataGenerator": sample.function.name if sample else None,
            "analystPolicyArn": self.athena.analyst_policy.arn,
            "refreshStateMachineArn": self.refresh.state_machine.arn,
            "eventsDeliveryStream": self.events.stream.name if self.events else None,
        }
