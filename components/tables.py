"""DynamoDB tables encrypted with a component's CMK: on-demand, point-in-time recovery, deletion protection
in prod, protected from `pulumi destroy` in prod.

Every table of the platform holds state someone depends on (features, orders, stock, replicated app
data), so none is built without these settings; components say only what differs: keys, indexes,
TTL, streams, replicas and tags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import StackContext

KEY_TYPES = ("S", "N", "B")


def encrypted_table(
    name: str,
    ctx: StackContext,
    *,
    component: str,
    purpose: str,
    kms_key_arn: pulumi.Input[str],
    hash_key: str,
    opts: pulumi.ResourceOptions,
    range_key: str | None = None,
    attributes: Mapping[str, str] | None = None,
    global_secondary_indexes: Sequence[Mapping[str, Any]] = (),
    ttl_attribute: str | None = None,
    stream_view_type: str | None = None,
    replicas: Sequence[Mapping[str, Any]] | None = None,
    tags: Mapping[str, str] | None = None,
) -> aws.dynamodb.Table:
    """A table named via ctx.name(component, purpose, service="dynamodb").

    `attributes` maps every key attribute (table and index keys) to its type; the table's own keys
    default to strings. Giving an attribute no key uses is refused here, as DynamoDB refuses it at
    deploy time.
    """
    declared = {hash_key: "S", **({range_key: "S"} if range_key else {}), **dict(attributes or {})}
    keyed = {hash_key, *([range_key] if range_key else [])}
    for index in global_secondary_indexes:
        keyed.update(key["attribute_name"] for key in index["key_schemas"])
    unused = sorted(set(declared) - keyed)
    if unused:
        raise ValueError(f"{name}: attributes {unused} are no table or index key; DynamoDB refuses them")
    bad = {attr: kind for attr, kind in declared.items() if kind not in KEY_TYPES}
    if bad:
        raise ValueError(f"{name}: key attribute types {bad} must be one of {KEY_TYPES}")
    return aws.dynamodb.Table(
        name,
        name=ctx.name(component, purpose, service="dynamodb"),
        billing_mode="PAY_PER_REQUEST",
        hash_key=hash_key,
        range_key=range_key,
        attributes=[{"name": attr, "type": kind} for attr, kind in sorted(declared.items())],
        global_secondary_indexes=[dict(index) for index in global_secondary_indexes] or None,
        point_in_time_recovery={"enabled": True},
        server_side_encryption={"enabled": True, "kms_key_arn": kms_key_arn},
        ttl={"attribute_name": ttl_attribute, "enabled": True} if ttl_attribute else None,
        stream_enabled=True if stream_view_type else None,
        stream_view_type=stream_view_type,
        deletion_protection_enabled=ctx.is_prod,
        replicas=[dict(replica) for replica in replicas] if replicas else None,
        tags=dict(tags) if tags else None,
        opts=ctx.stateful(opts),
    )
