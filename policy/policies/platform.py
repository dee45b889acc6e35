"""EKS, Kubernetes, Backup and the stack-wide rules: protection of stateful resources and ownership tags."""

from __future__ import annotations

import base64
import binascii
import importlib
import re
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

import yaml
from pulumi_policy import Severity

from .base import (
    REQUIRED_TAGS,
    UNKNOWN,
    Guardrail,
    Rule,
    Subject,
    as_list,
    cannot_tell,
    customer_key_problem,
    get,
    is_set,
)

AWS_EKS_CLUSTER = "aws:eks/cluster:Cluster"
EKS_COMPONENT = "eks:index:Cluster"
BACKUP_VAULT = "aws:backup/vault:Vault"
BACKUP_PLAN = "aws:backup/plan:Plan"
K8S_SECRET = "kubernetes:core/v1:Secret"  # noqa: S105 # pragma: allowlist secret - a type token
K8S_CONFIG_GROUP = "kubernetes:yaml/v2:ConfigGroup"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART = "kubernetes:helm.sh/v4:Chart"
ARGO_APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application"

REQUIRED_LOG_TYPES: tuple[str, ...] = ("api", "audit", "authenticator")
OPEN_CIDRS = ("0.0.0.0/0", "::/0")

# Data-bearing resources: deleting them loses data, so prod protects them from `pulumi destroy`.
STATEFUL_TYPES: frozenset[str] = frozenset(
    {
        "aws:dynamodb/table:Table",
        "aws:dynamodb/globalTable:GlobalTable",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:kinesis/stream:Stream",
        "aws:sqs/queue:Queue",
        "aws:kms/key:Key",
        "aws:kms/replicaKey:ReplicaKey",
        "aws:backup/vault:Vault",
        "aws:backup/logicallyAirGappedVault:LogicallyAirGappedVault",
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:secretsmanager/secret:Secret",
        "aws:efs/fileSystem:FileSystem",
    }
)

EXACT_CHART_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")
KEY_MATERIAL_NAMES = re.compile(r"(ssh-?private|private-?key|id_(rsa|ecdsa|ed25519)$|^tls\.key$|\.pem$)", re.I)
KEY_MATERIAL_TYPES = ("kubernetes.io/ssh-auth", "kubernetes.io/tls")
PEM_PRIVATE_KEY = "PRIVATE KEY-----"  # pragma: allowlist secret - the PEM marker we look for


# ---------------------------------------------------------------------------------------------
# EKS


def _eks_settings(subject: Subject) -> tuple[Any, Any, Any, Any]:
    """(secrets key, log types, public endpoint, public CIDRs) of either EKS cluster resource."""
    if subject.type == EKS_COMPONENT:
        key = subject.get("encryptionConfigKeyArn")
        public = subject.get("endpointPublicAccess", default=True)
        cidrs = subject.get("publicAccessCidrs")
    else:
        configs = as_list(subject.get("encryptionConfig"))
        key = next((get(c, "provider", "keyArn") for c in configs if "secrets" in (get(c, "resources") or [])), None)
        public = subject.get("vpcConfig", "endpointPublicAccess", default=True)
        cidrs = subject.get("vpcConfig", "publicAccessCidrs")
    return key, subject.get("enabledClusterLogTypes"), public, cidrs


def check_eks_secrets_encryption(subject: Subject) -> Iterable[str]:
    key, _, _, _ = _eks_settings(subject)
    if not is_set(key):
        yield "Kubernetes secrets are not envelope-encrypted with a customer-managed KMS key"


def check_eks_control_plane_logging(subject: Subject) -> Iterable[str]:
    _, log_types, _, _ = _eks_settings(subject)
    if log_types is UNKNOWN:
        return
    missing = [t for t in REQUIRED_LOG_TYPES if t not in (log_types or [])]
    if missing:
        yield f"control-plane log types {missing} are not sent to CloudWatch"


def check_eks_public_endpoint(subject: Subject) -> Iterable[str]:
    if subject.environment not in ("prod", None):
        return
    _, _, public, cidrs = _eks_settings(subject)
    if public is False or public is UNKNOWN:
        return
    if cidrs is UNKNOWN:
        raise cannot_tell(subject, "publicAccessCidrs")
    open_to = [c for c in (cidrs or OPEN_CIDRS) if c in OPEN_CIDRS]
    if open_to:
        where = "prod" if subject.environment == "prod" else "a stack whose environment cannot be told"
        yield f"the public API endpoint of a cluster in {where} is open to {open_to}"


# ---------------------------------------------------------------------------------------------
# Backup


def check_backup_vault_key(subject: Subject) -> Iterable[str]:
    problem = customer_key_problem(subject.get("kmsKeyArn"), "AWS Backup")
    if problem:
        yield problem


def _arn_region(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def check_backup_cross_region_copy(subject: Subject) -> Iterable[str]:
    rules = subject.get("rules")
    if rules is UNKNOWN:
        raise cannot_tell(subject, "rules")
    for rule in as_list(rules):
        name = get(rule, "ruleName", default="?")
        copies = as_list(get(rule, "copyActions"))
        if not copies:
            yield f"rule {name!r} makes no copy to another region"
            continue
        destinations = [get(c, "destinationVaultArn") for c in copies]
        if any(d is UNKNOWN for d in destinations):
            raise cannot_tell(subject, f"rules.{name}.copyActions.destinationVaultArn")
        if not any(isinstance(d, str) and _arn_region(d) not in ("", subject.region) for d in destinations):
            yield f"rule {name!r} copies only within {subject.region}; copy to the DR region's vault"


# ---------------------------------------------------------------------------------------------
# Kubernetes


def _secret_manifests(subject: Subject) -> Iterator[tuple[str, Any]]:
    """(label, manifest) of every Secret a resource declares: a Secret object or Secrets in a ConfigGroup."""
    if subject.type == K8S_SECRET:
        yield subject.name, subject.props
        return
    documents: list[Any] = list(as_list(subject.get("objs")))
    for text in as_list(subject.get("yaml")):
        if isinstance(text, str):
            documents.extend(yaml.safe_load_all(text))
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "Secret":
            yield get(document, "metadata", "name", default="?"), document


def _decoded(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return value


def check_secret_key_material(subject: Subject) -> Iterable[str]:
    for label, manifest in _secret_manifests(subject):
        kind = get(manifest, "type")
        if kind in KEY_MATERIAL_TYPES:
            yield f"Secret {label} has type {kind}, which carries a private key"
        encoded = get(manifest, "data") or {}
        data = {**(get(manifest, "stringData") or {}), **{k: _decoded(v) for k, v in encoded.items()}}
        for key, value in data.items():
            if KEY_MATERIAL_NAMES.search(str(key)) or (isinstance(value, str) and PEM_PRIVATE_KEY in value):
                yield f"Secret {label} carries key material in {key!r}"


def _chart_sources(subject: Subject) -> Iterator[tuple[Any, Any]]:
    """(chart, version) pairs a resource installs."""
    if subject.type in (HELM_RELEASE, HELM_CHART):
        yield subject.get("chart"), subject.get("version")
        return
    spec = subject.get("spec") or {}
    for source in [get(spec, "source"), *as_list(get(spec, "sources"))]:
        if isinstance(source, dict) and source.get("chart"):
            yield source.get("chart"), source.get("targetRevision")


def check_chart_version_pinned(subject: Subject) -> Iterable[str]:
    for chart, version in _chart_sources(subject):
        if chart is UNKNOWN or version is UNKNOWN:
            continue
        if isinstance(chart, str) and (chart.startswith(("./", "../", "/")) or "@sha256:" in chart):
            continue  # a chart from this repository, or pinned by digest
        if not isinstance(version, str) or not EXACT_CHART_VERSION.match(version):
            yield f"chart {chart!r} is not pinned to an exact version (got {version!r})"


# ---------------------------------------------------------------------------------------------
# Stack-wide


def check_protected_in_prod(subject: Subject) -> Iterable[str]:
    if subject.environment == "prod" and not subject.protect:
        yield "a data-bearing resource in prod is not protected from deletion"


@cache
def is_taggable(resource_type: str) -> bool:
    """Whether the pulumi-aws resource accepts `tags` (read from the installed SDK, so never stale)."""
    package, _, rest = resource_type.partition(":")
    if package != "aws" or "/" not in rest:
        return False
    module, class_name = rest.split("/", 1)[0], rest.rsplit(":", 1)[-1]
    for candidate in (module, f"{module}_"):
        try:
            sdk = importlib.import_module(f"pulumi_aws.{candidate}")
        except ModuleNotFoundError:
            continue
        resource_class = getattr(sdk, class_name, None)
        if resource_class is not None:
            return isinstance(getattr(resource_class, "tags", None), property)
    raise LookupError(f"pulumi_aws has no resource {resource_type}; is pulumi-aws installed for the policy pack?")


def check_required_tags(subject: Subject) -> Iterable[str]:
    if not is_taggable(subject.type):
        return
    tags = subject.tags
    missing = [t for t in REQUIRED_TAGS if not is_set(tags.get(t))]
    if missing:
        yield f"tags {missing} are missing (neither the provider's default tags nor the resource set them)"


POLICIES = [
    Guardrail(
        Rule(
            "eks-secrets-encryption",
            "EKS clusters envelope-encrypt Kubernetes secrets with a customer-managed KMS key.",
            "Pass encryption_config_key_arn=<CustomerManagedKey>.arn to pulumi_eks.Cluster.",
            tags=("eks", "encryption"),
        ),
        (AWS_EKS_CLUSTER, EKS_COMPONENT),
        check_eks_secrets_encryption,
    ),
    Guardrail(
        Rule(
            "eks-control-plane-logging",
            f"EKS clusters send the {', '.join(REQUIRED_LOG_TYPES)} control-plane logs to CloudWatch.",
            "Set enabled_cluster_log_types=['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'].",
            tags=("eks", "observability"),
        ),
        (AWS_EKS_CLUSTER, EKS_COMPONENT),
        check_eks_control_plane_logging,
    ),
    Guardrail(
        Rule(
            "eks-public-endpoint-restricted",
            "In prod, the EKS API endpoint is private or its public access is limited to named CIDRs.",
            "Set endpoint_public_access=False (reach the API through the VPC), or public_access_cidrs to the "
            "operators' egress ranges via the stack config.",
            tags=("eks", "public"),
        ),
        (AWS_EKS_CLUSTER, EKS_COMPONENT),
        check_eks_public_endpoint,
    ),
    Guardrail(
        Rule(
            "backup-vault-customer-key",
            "AWS Backup vaults encrypt recovery points with a customer-managed KMS key.",
            "Set kms_key_arn=<CustomerManagedKey>.arn on aws.backup.Vault (and the DR vault, with a key in the "
            "DR region).",
            tags=("backup", "encryption"),
        ),
        (BACKUP_VAULT,),
        check_backup_vault_key,
    ),
    Guardrail(
        Rule(
            "backup-plan-cross-region-copy",
            "Every AWS Backup plan rule copies recovery points to a vault in another region.",
            "Add copy_actions=[{'destination_vault_arn': <DR vault>.arn, 'lifecycle': {...}}] to each rule; "
            "the DR vault is created through the DR provider (ctx.dr).",
            tags=("backup", "recovery"),
        ),
        (BACKUP_PLAN,),
        check_backup_cross_region_copy,
    ),
    Guardrail(
        Rule(
            "k8s-no-key-material-in-secrets",
            "Kubernetes Secrets declared from code or Git carry no private keys (SSH, TLS).",
            "Keep the key in AWS Secrets Manager and materialise it with an ExternalSecret through the "
            "ClusterSecretStore; TLS certificates come from ACM or cert-manager.",
            severity=Severity.CRITICAL,
            tags=("kubernetes", "secrets"),
        ),
        (K8S_SECRET, K8S_CONFIG_GROUP),
        check_secret_key_material,
    ),
    Guardrail(
        Rule(
            "helm-chart-version-pinned",
            "Helm charts (Helm releases, charts and Argo CD applications) are pinned to an exact version.",
            "Set version (or targetRevision) to an exact chart version such as '7.7.11', kept in the component's "
            "args with its upgrade notes.",
            severity=Severity.MEDIUM,
            tags=("kubernetes", "supply-chain"),
        ),
        (HELM_RELEASE, HELM_CHART, ARGO_APPLICATION),
        check_chart_version_pinned,
    ),
    Guardrail(
        Rule(
            "stateful-protected-in-prod",
            "Data-bearing resources (tables, buckets, streams, queues, keys, vaults, databases) are protected in prod.",
            "Create the resource with opts=ctx.stateful(...), which sets protect=True in prod.",
            tags=("recovery",),
        ),
        tuple(sorted(STATEFUL_TYPES)),
        check_protected_in_prod,
    ),
    Guardrail(
        Rule(
            "required-tags",
            f"Every taggable AWS resource carries the tags {', '.join(REQUIRED_TAGS)}.",
            "Create the resource with provider=ctx.primary or ctx.dr (their default tags carry the required set), "
            "or pass tags explicitly.",
            severity=Severity.MEDIUM,
            tags=("tags", "cost"),
        ),
        (),
        check_required_tags,
    ),
]
