"""S3 guardrails: encryption with the stack's key, no public access, TLS only, versioning, lifecycle.

pulumi-aws 7 configures a bucket through separate resources (`BucketServerSideEncryptionConfiguration`,
`BucketPublicAccessBlock`, `BucketPolicy`, `BucketVersioning`, `BucketLifecycleConfiguration`); the
deprecated inline arguments of `Bucket` are checked too. Each setting resource is checked on its own,
and the stack policy `s3-bucket-baseline` checks that every bucket actually has each of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from pulumi_policy import Severity

from .base import (
    UNKNOWN,
    Guardrail,
    Rule,
    StackGuardrail,
    StackResource,
    Subject,
    as_list,
    customer_key_problem,
    decode_json,
    get,
    is_set,
    statements,
)

BUCKET_TYPES = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
SSE_TYPES = (
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
)
PAB_TYPE = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
POLICY_TYPE = "aws:s3/bucketPolicy:BucketPolicy"
VERSIONING_TYPES = ("aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2")
LIFECYCLE_TYPES = (
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
)
ACL_TYPES = ("aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2")

KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
# S3 server access logging cannot deliver to an SSE-KMS bucket: log targets (components.storage.SecureBucket
# with server_access_log_target, purpose `access-logs`) use SSE-S3, and the stack policy checks that each
# SSE-S3 bucket does receive access logs.
SSE_S3 = "AES256"
LOGGING_TYPE = "aws:s3/bucketLogging:BucketLogging"
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
PUBLIC_ACLS = ("public-read", "public-read-write", "authenticated-read")

# Buckets named for these purposes hold derived, re-creatable output: no versioning required.
# Bucket names end in `-<purpose>`, then (components' buckets) `-<account id>-<region>`.
_GLOBAL_SUFFIX = r"(-\d{12}-[a-z]{2}(-[a-z]+)+-\d+)?$"
# (components.storage.SecureBucket log targets, see above; named like every component bucket.)
ACCESS_LOG_BUCKET = re.compile(r"-access-logs" + _GLOBAL_SUFFIX)
SCRATCH_PURPOSES = re.compile(r"-(athena-)?results" + _GLOBAL_SUFFIX)
# Buckets whose objects must age out or move to colder storage.
LIFECYCLE_PURPOSES = re.compile(r"-(raw|(athena-)?results)" + _GLOBAL_SUFFIX)


def _sse_rule_problems(rules: Any, where: str, access_log_target: bool = False) -> Iterator[str]:
    if rules is UNKNOWN:
        return
    defaults = [get(rule, "applyServerSideEncryptionByDefault") for rule in as_list(rules)]
    if not defaults:
        yield f"{where} has no default encryption rule"
    for default in defaults:
        if default is UNKNOWN:
            continue
        algorithm = get(default, "sseAlgorithm")
        if access_log_target and algorithm == SSE_S3:
            continue
        if algorithm is not UNKNOWN and algorithm not in KMS_ALGORITHMS:
            yield f"{where} encrypts with {algorithm!r}; SSE-KMS ('aws:kms') with the stack's key is required"
            continue
        problem = customer_key_problem(get(default, "kmsMasterKeyId"), "S3")
        if problem:
            yield f"{where}: {problem}"


def _is_access_log_target(bucket_name: Any) -> bool:
    return isinstance(bucket_name, str) and bool(ACCESS_LOG_BUCKET.search(bucket_name))


def check_bucket_encryption(subject: Subject) -> Iterable[str]:
    log_target = _is_access_log_target(subject.get("bucket"))
    if subject.type in SSE_TYPES:
        yield from _sse_rule_problems(subject.get("rules"), "the encryption configuration", log_target)
        return
    inline = subject.get("serverSideEncryptionConfiguration")
    if inline is not None:
        yield from _sse_rule_problems(get(inline, "rule"), "the inline encryption configuration", log_target)


def check_public_access_block(subject: Subject) -> Iterable[str]:
    off = [flag for flag in PUBLIC_ACCESS_FLAGS if subject.get(flag) is not UNKNOWN and subject.get(flag) is not True]
    if off:
        yield f"public access block leaves {', '.join(off)} off"


def check_no_public_acl(subject: Subject) -> Iterable[str]:
    acl = subject.get("acl")
    if isinstance(acl, str) and acl in PUBLIC_ACLS:
        yield f"canned ACL {acl!r} makes objects readable outside the account"
    for grant in as_list(subject.get("grants")) + as_list(subject.get("accessControlPolicy", "grants")):
        uri = get(grant, "uri") or get(grant, "grantee", "uri")
        if isinstance(uri, str) and ("AllUsers" in uri or "AuthenticatedUsers" in uri):
            yield f"ACL grant to {uri} makes the bucket public"


def denies_insecure_transport(document: Any) -> bool:
    """A Deny on every principal when `aws:SecureTransport` is false, covering the bucket and its objects."""
    for statement in statements(document):
        if statement.effect != "Deny":
            continue
        if statement.principal not in ("*", {"AWS": "*"}):
            continue
        if not any(a in ("s3:*", "*") for a in statement.actions):
            continue
        secure = get(statement.condition, "Bool", "aws:SecureTransport")
        if str(secure).lower() != "false":
            continue
        resources = [str(r) for r in statement.resources]
        if any(r.endswith("/*") for r in resources) and any(not r.endswith("/*") for r in resources):
            return True
    return False


def check_tls_only_policy(subject: Subject) -> Iterable[str]:
    document = decode_json(subject.get("policy"), "bucket policy")
    if document is UNKNOWN:
        return
    if not denies_insecure_transport(document):
        yield (
            "bucket policy does not deny requests without TLS (Deny s3:* for Principal * on the bucket and "
            "bucket/* when aws:SecureTransport is false)"
        )
    for statement in statements(document):
        if statement.allows and statement.principal in ("*", {"AWS": "*"}) and not statement.condition:
            yield f"{statement.label} allows every principal without a condition: the bucket would be public"


def check_versioning(subject: Subject) -> Iterable[str]:
    if subject.type in VERSIONING_TYPES:
        status = subject.get("versioningConfiguration", "status")
        if status is not UNKNOWN and status != "Enabled":
            yield f"versioning status is {status!r}; data buckets keep versions ('Enabled')"
        return
    enabled = subject.get("versioning", "enabled")
    if enabled is False:
        yield "inline versioning is disabled"


def check_lifecycle_rules(subject: Subject) -> Iterable[str]:
    rules = subject.get("rules")
    if rules is UNKNOWN:
        return
    if not as_list(rules):
        yield "lifecycle configuration has no rules"
    for rule in as_list(rules):
        rule_id = get(rule, "id", default="?")
        if get(rule, "status") not in ("Enabled", UNKNOWN):
            yield f"lifecycle rule {rule_id!r} is not Enabled"
        actions = [get(rule, key) for key in ("transitions", "expiration", "noncurrentVersionExpiration")]
        if not any(is_set(a) for a in actions):
            yield f"lifecycle rule {rule_id!r} neither transitions nor expires objects"


# ---------------------------------------------------------------------------------------------
# Stack policy: every bucket has each setting


def _bucket_name(bucket: Subject) -> str:
    name = bucket.get("bucket")
    return name if isinstance(name, str) else bucket.name


def _settings_of(bucket: StackResource, resources: Sequence[StackResource], types: Sequence[str]) -> list[Subject]:
    """Setting resources that name this bucket (by dependency, or by bucket name when known)."""
    name = bucket.subject.get("bucket")
    found = []
    for other in resources:
        if other.subject.type not in types:
            continue
        if bucket.subject.urn in other.dependencies or (isinstance(name, str) and other.subject.get("bucket") == name):
            found.append(other.subject)
    return found


def _uses_sse_s3(encryption: Subject) -> bool:
    defaults = [get(rule, "applyServerSideEncryptionByDefault") for rule in as_list(encryption.get("rules"))]
    return any(get(default, "sseAlgorithm") == SSE_S3 for default in defaults if default is not UNKNOWN)


def _receives_access_logs(bucket: StackResource, resources: Sequence[StackResource]) -> bool:
    """Some logging configuration names this bucket as its target (or a target not known before `up`)."""
    name = bucket.subject.get("bucket")
    targets = [other.subject.get("targetBucket") for other in resources if other.subject.type == LOGGING_TYPE]
    return name is UNKNOWN or any(target is UNKNOWN or target == name for target in targets)


def check_bucket_baseline(resources: Sequence[StackResource]) -> Iterable[tuple[str, str]]:
    for bucket in resources:
        if bucket.subject.type not in BUCKET_TYPES:
            continue
        subject, name = bucket.subject, _bucket_name(bucket.subject)
        encryption = _settings_of(bucket, resources, SSE_TYPES)
        if not encryption and subject.get("serverSideEncryptionConfiguration") is None:
            yield subject.urn, f"bucket {name} has no SSE-KMS encryption configuration"
        if any(_uses_sse_s3(e) for e in encryption) and not _receives_access_logs(bucket, resources):
            yield subject.urn, f"bucket {name} uses SSE-S3, allowed only for a target of S3 server access logs"
        if not _settings_of(bucket, resources, (PAB_TYPE,)):
            yield subject.urn, f"bucket {name} has no public access block"
        policies = _settings_of(bucket, resources, (POLICY_TYPE,))
        documents = [decode_json(p.get("policy"), "bucket policy") for p in policies]
        if UNKNOWN not in documents and not any(denies_insecure_transport(d) for d in documents):
            yield subject.urn, f"bucket {name} has no TLS-only bucket policy"
        if not SCRATCH_PURPOSES.search(name):
            versioned = _settings_of(bucket, resources, VERSIONING_TYPES)
            if not versioned and subject.get("versioning", "enabled") is not True:
                yield subject.urn, f"bucket {name} holds data but has no versioning configuration"
        lifecycle = _settings_of(bucket, resources, LIFECYCLE_TYPES) or subject.get("lifecycleRules")
        if LIFECYCLE_PURPOSES.search(name) and not lifecycle:
            yield subject.urn, f"bucket {name} (raw or results) has no lifecycle configuration"


POLICIES = [
    Guardrail(
        Rule(
            "s3-encryption-customer-key",
            "S3 buckets encrypt by default with SSE-KMS under a customer-managed key (access-log targets: SSE-S3).",
            "Declare aws.s3.BucketServerSideEncryptionConfiguration with sse_algorithm='aws:kms' and "
            "kms_master_key_id=<the component's CustomerManagedKey>.arn (bucket_key_enabled=True).",
            tags=("s3", "encryption"),
        ),
        (*SSE_TYPES, *BUCKET_TYPES),
        check_bucket_encryption,
    ),
    Guardrail(
        Rule(
            "s3-public-access-blocked",
            "S3 public access blocks turn on all four settings.",
            "Set block_public_acls, block_public_policy, ignore_public_acls and restrict_public_buckets to True "
            "on aws.s3.BucketPublicAccessBlock.",
            tags=("s3", "public"),
        ),
        (PAB_TYPE,),
        check_public_access_block,
    ),
    Guardrail(
        Rule(
            "s3-no-public-acl",
            "S3 buckets never grant access through public canned ACLs or grants.",
            "Remove the public ACL/grant; keep BucketOwnershipControls 'BucketOwnerEnforced' and share data "
            "through IAM roles or bucket policies naming principals.",
            tags=("s3", "public"),
        ),
        (*BUCKET_TYPES, *ACL_TYPES),
        check_no_public_acl,
    ),
    Guardrail(
        Rule(
            "s3-tls-only-policy",
            "S3 bucket policies deny every request that does not use TLS and allow no anonymous access.",
            "Add a statement Effect=Deny, Principal='*', Action='s3:*', Resource=[bucket ARN, bucket ARN + '/*'], "
            "Condition={'Bool': {'aws:SecureTransport': 'false'}} to the bucket policy.",
            tags=("s3", "encryption"),
        ),
        (POLICY_TYPE,),
        check_tls_only_policy,
    ),
    Guardrail(
        Rule(
            "s3-versioning-enabled",
            "S3 versioning configurations keep versioning enabled (never suspended).",
            "Set versioning_configuration={'status': 'Enabled'} on aws.s3.BucketVersioning.",
            tags=("s3", "recovery"),
        ),
        (*VERSIONING_TYPES, *BUCKET_TYPES),
        check_versioning,
    ),
    Guardrail(
        Rule(
            "s3-lifecycle-rules-effective",
            "S3 lifecycle rules are enabled and each transitions or expires objects.",
            "Give every rule status='Enabled' and transitions, an expiration or a noncurrent version expiration.",
            severity=Severity.MEDIUM,
            tags=("s3", "cost"),
        ),
        LIFECYCLE_TYPES,
        check_lifecycle_rules,
    ),
]

STACK_POLICIES = [
    StackGuardrail(
        Rule(
            "s3-bucket-baseline",
            "Every S3 bucket has SSE-KMS (SSE-S3 only if it receives access logs), a public access block and a "
            "TLS-only policy; data buckets are versioned; raw and results buckets have a lifecycle.",
            "Declare the missing aws.s3.Bucket* setting resource for the bucket, with bucket=<bucket>.id.",
            tags=("s3",),
        ),
        check_bucket_baseline,
    ),
]
