"""The feature store's CloudWatch dashboard: one row per stage (stream, enrichment, table, inference), with
the metrics its alarms watch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pulumi

from components.feature_store.inference import VARIANT

if TYPE_CHECKING:
    from components.feature_store.inference import InferenceApi, InferenceEndpoint

# The enrichment handler's EMF metrics (handlers/feature_store/enrich.py), dimensioned by FunctionName.
METRICS_NAMESPACE = "Platform/FeatureStore"
WIDTH, HEIGHT = 12, 6


def _widget(region: str, title: str, metrics: list[list[Any]], stat: str = "Sum") -> dict[str, Any]:
    return {
        "type": "metric",
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": 60,
            "view": "timeSeries",
            "metrics": metrics,
        },
    }


def _place(widgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two widgets a row, in order."""
    return [{**w, "x": (i % 2) * WIDTH, "y": (i // 2) * HEIGHT} for i, w in enumerate(widgets)]


def dashboard_widgets(
    region: str,
    *,
    enrich: pulumi.Input[str],
    table: pulumi.Input[str],
    api: InferenceApi | None,
    endpoint: InferenceEndpoint | None,
) -> list[dict[str, Any]]:
    """The widgets, as CloudWatch's dashboard body `widgets` (values may be Outputs)."""
    function = ["FunctionName", enrich]
    widgets = [
        _widget(region, "Enrichment lag (iterator age, ms)", [["AWS/Lambda", "IteratorAge", *function]], "Maximum"),
        _widget(
            region,
            "Records applied, skipped, failed, malformed",
            [
                [METRICS_NAMESPACE, name, *function]
                for name in ("RecordsApplied", "RecordsSkippedBehindWatermark", "RecordsFailed", "MalformedRecords")
            ],
        ),
        _widget(
            region,
            "Enrichment invocations, errors, throttles, parking failures",
            [
                ["AWS/Lambda", name, *function]
                for name in ("Invocations", "Errors", "Throttles", "DestinationDeliveryFailures")
            ],
        ),
        _widget(
            region,
            "Feature table throttles",
            [["AWS/DynamoDB", f"{op}ThrottleEvents", "TableName", table] for op in ("Read", "Write")],
        ),
    ]
    if api is not None and endpoint is not None:
        predict = ["FunctionName", api.function.name]
        stage = ["ApiId", api.api.id, "Stage", api.stage.name]
        model = ["EndpointName", endpoint.endpoint.name, "VariantName", VARIANT]
        widgets += [
            _widget(region, "API requests and 5xx", [["AWS/ApiGateway", n, *stage] for n in ("Count", "5xx", "4xx")]),
            _widget(region, "API latency p99 (ms)", [["AWS/ApiGateway", "Latency", *stage]], "p99"),
            _widget(
                region,
                "Predict invocations, errors, throttles",
                [["AWS/Lambda", name, *predict] for name in ("Invocations", "Errors", "Throttles")],
            ),
            _widget(
                region,
                "Model invocations and errors",
                [["AWS/SageMaker", n, *model] for n in ("Invocations", "Invocation4XXErrors", "Invocation5XXErrors")],
            ),
            _widget(region, "Model latency p99 (microseconds)", [["AWS/SageMaker", "ModelLatency", *model]], "p99"),
        ]
    return _place(widgets)
