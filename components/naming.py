"""Physical names: `<project>-<stack>-<component>-<purpose>`, always within the service's limit."""

from __future__ import annotations

import hashlib
import re

# Maximum lengths AWS accepts for the names we set.
LIMITS: dict[str, int] = {
    "default": 64,
    "s3": 63,
    "iam": 64,
    "lambda": 64,
    "sqs": 80,
    "sns": 256,
    "dynamodb": 255,
    "kinesis": 128,
    "glue": 255,
    "athena": 128,
    "events": 64,
    "events-archive": 48,
    "sfn": 80,
    "backup": 50,
    "sagemaker": 63,
    "eks": 100,
    "rds": 63,
    "logs": 512,
    "kms-alias": 250,
    "alb": 32,
    "apigw": 128,
    "alarm": 255,
}

# A bucket name ends in `-<12-digit account id>-<region>`: S3 names are global across accounts.
ACCOUNT_ID_LENGTH = 12


def bucket_suffix_length(region: str) -> int:
    return len(f"-{'0' * ACCOUNT_ID_LENGTH}-{region}")


_SEGMENT = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def physical_name(
    project: str, stack: str, component: str, purpose: str, *, service: str = "default", reserve: int = 0
) -> str:
    """Build the name; when it would exceed the service limit (less `reserve` characters the caller
    appends), keep a readable prefix and a stable hash."""
    for label, segment in (("project", project), ("stack", stack), ("component", component), ("purpose", purpose)):
        if not _SEGMENT.match(segment):
            raise ValueError(f"name {label} {segment!r} must be lowercase letters, digits and hyphens")
    limit = LIMITS.get(service)
    if limit is None:
        raise ValueError(f"unknown naming service {service!r}; known: {', '.join(sorted(LIMITS))}")
    limit -= reserve
    full = f"{project}-{stack}-{component}-{purpose}"
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:8]
    return f"{full[: limit - 9].rstrip('-')}-{digest}"
