"""CloudWatch metrics as Embedded Metric Format (EMF) log lines: no API call, no extra permission.

CloudWatch Logs turns each stdout line that is an EMF JSON object into metric data points. The line
is printed, not logged through `logging`: with Lambda's JSON log format the logging records are
wrapped by the runtime, while a JSON line on stdout reaches CloudWatch Logs as it is.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from typing import IO

NAMESPACE = "Platform"


def emf_document(
    values: Mapping[str, int | float],
    *,
    namespace: str = NAMESPACE,
    dimensions: Mapping[str, str] | None = None,
    unit: str = "Count",
    timestamp_ms: int | None = None,
    properties: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """One EMF object carrying `values` (metric name -> value) under `dimensions`."""
    dims = dict(dimensions or {})
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(dims)],
                    "Metrics": [{"Name": name, "Unit": unit} for name in values],
                }
            ],
        },
        **(properties or {}),
        **dims,
        **values,
    }


def function_dimensions() -> dict[str, str]:
    """The Lambda function's name as dimension (what alarms and dashboards select on)."""
    return {"FunctionName": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")}


def put_metrics(
    values: Mapping[str, int | float],
    *,
    namespace: str = NAMESPACE,
    dimensions: Mapping[str, str] | None = None,
    properties: Mapping[str, object] | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Print one EMF line with `values` (counts), dimensioned by function unless told otherwise."""
    document = emf_document(
        values,
        namespace=namespace,
        dimensions=function_dimensions() if dimensions is None else dimensions,
        properties=properties,
    )
    out = sys.stdout if stream is None else stream
    out.write(json.dumps(document, default=str, separators=(",", ":")) + "\n")
    out.flush()
