"""KMS keys and IAM: rotation, no broad key grants, least-privilege documents, named trust."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from components.iam import UNSCOPED_ACTIONS

from .base import (
    UNKNOWN,
    Guardrail,
    Rule,
    Subject,
    as_list,
    decode_json,
    get,
    is_wildcard_action,
    principal_values,
    statements,
)

KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
REPLICA_KEY = "aws:kms/replicaKey:ReplicaKey"
ROLE = "aws:iam/role:Role"

# Identity policies: a document attached to a principal (the `*` resource rule applies to these).
IDENTITY_DOCUMENTS: dict[str, str] = {
    "aws:iam/policy:Policy": "policy",
    "aws:iam/rolePolicy:RolePolicy": "policy",
    "aws:iam/userPolicy:UserPolicy": "policy",
    "aws:iam/groupPolicy:GroupPolicy": "policy",
}
# Resource policies: documents on a resource, with principals.
RESOURCE_DOCUMENTS: dict[str, str] = {
    "aws:sqs/queuePolicy:QueuePolicy": "policy",
    "aws:sns/topicPolicy:TopicPolicy": "policy",
    "aws:s3/bucketPolicy:BucketPolicy": "policy",
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": "policy",
    "aws:backup/vaultPolicy:VaultPolicy": "policy",
    "aws:secretsmanager/secretPolicy:SecretPolicy": "policy",  # pragma: allowlist secret
    "aws:lambda/resourcePolicy:ResourcePolicy": "policy",
}
ATTACHMENTS: dict[str, str] = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    ROLE: "managedPolicyArns",
}

# AWS managed policies that exist for one service's own role (EKS control plane and nodes, Backup,
# Glue, VPC CNI); attaching them to that role is the documented set-up, not a broad grant.
SERVICE_ROLE_MANAGED_POLICIES: frozenset[str] = frozenset(
    {
        "AmazonEKSClusterPolicy",
        "AmazonEKSVPCResourceController",
        "AmazonEKSWorkerNodePolicy",
        "AmazonEKS_CNI_Policy",
        "AmazonEC2ContainerRegistryReadOnly",
        "AmazonEBSCSIDriverPolicy",
        "AmazonSSMManagedInstanceCore",
        "AWSBackupServiceRolePolicyForBackup",
        "AWSBackupServiceRolePolicyForRestores",
        "AWSBackupServiceRolePolicyForS3Backup",
        "AWSBackupServiceRolePolicyForS3Restore",
        "AWSGlueServiceRole",
    }
)
BROAD_MANAGED_POLICY = re.compile(r"(Administrator|Admin|PowerUser|FullAccess|ReadWrite|ReadOnlyAccess$)", re.I)
AWS_MANAGED_ARN = re.compile(r"^arn:aws[a-z-]*:iam::aws:policy/(?:.*/)?(?P<name>[^/]+)$")
ACCOUNT_ROOT = re.compile(r"^(arn:aws[a-z-]*:iam::\d{12}:root|\d{12})$")
OIDC_PROVIDER = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/.+$")


def _documents(subject: Subject, kinds: dict[str, str]) -> Iterator[tuple[str, Any]]:
    """(where, decoded document) pairs of a resource; a role's inline policies count as identity ones."""
    if subject.type in kinds:
        key = kinds[subject.type]
        yield key, decode_json(subject.get(key), f"{subject.type} {key}")
    if subject.type == ROLE and kinds is IDENTITY_DOCUMENTS:
        for inline in as_list(subject.get("inlinePolicies")):
            name = get(inline, "name", default="?")
            yield f"inline policy {name}", decode_json(get(inline, "policy"), f"inline policy {name}")


# ---------------------------------------------------------------------------------------------
# KMS


def check_key_rotation(subject: Subject) -> Iterable[str]:
    spec = subject.get("customerMasterKeySpec") or subject.get("keySpec") or "SYMMETRIC_DEFAULT"
    if spec is not UNKNOWN and spec != "SYMMETRIC_DEFAULT":
        return  # AWS rotates only symmetric encryption keys
    if subject.get("enableKeyRotation") not in (True, UNKNOWN):
        yield "automatic key rotation is off"


def check_key_policy_grants(subject: Subject) -> Iterable[str]:
    document = decode_json(subject.get("policy"), "key policy")
    if document is UNKNOWN or document is None:
        return
    for statement in statements(document):
        if not statement.allows:
            continue
        if statement.not_actions:
            yield f"{statement.label} allows everything except {list(statement.not_actions)} (NotAction)"
            continue
        if not any(a in ("kms:*", "*") for a in statement.actions):
            continue
        kinds = ("AWS", "Service", "Federated")
        grantees = dict.fromkeys(g for kind in kinds for g in principal_values(statement.principal, kind))
        others = [g for g in grantees if g is not UNKNOWN and not ACCOUNT_ROOT.match(str(g))]
        if others:
            yield f"{statement.label} grants kms:* to {others}; only the account root may administer the key"


# ---------------------------------------------------------------------------------------------
# IAM documents


def check_no_wildcard_actions(subject: Subject) -> Iterable[str]:
    for where, document in [*_documents(subject, IDENTITY_DOCUMENTS), *_documents(subject, RESOURCE_DOCUMENTS)]:
        if document is UNKNOWN:
            continue
        for statement in statements(document):
            if not statement.allows:
                continue
            wild = [a for a in statement.actions if is_wildcard_action(a)]
            if wild:
                yield f"{where}: {statement.label} allows wildcard actions {wild}"
            if statement.not_actions:
                yield f"{where}: {statement.label} allows every action except {list(statement.not_actions)}"


def check_no_wildcard_resource(subject: Subject) -> Iterable[str]:
    for where, document in _documents(subject, IDENTITY_DOCUMENTS):
        if document is UNKNOWN:
            continue
        for statement in statements(document):
            if not statement.allows or "*" not in statement.resources:
                continue
            scoped = sorted(a for a in statement.actions if a not in UNSCOPED_ACTIONS)
            if scoped:
                yield f"{where}: {statement.label} allows {scoped} on every resource ('*')"


def check_managed_policies(subject: Subject) -> Iterable[str]:
    key = ATTACHMENTS.get(subject.type)
    if key is None:
        return
    for arn in as_list(subject.get(key)):
        match = AWS_MANAGED_ARN.match(arn) if isinstance(arn, str) else None
        if match is None:
            continue
        name = match.group("name")
        if name not in SERVICE_ROLE_MANAGED_POLICIES and BROAD_MANAGED_POLICY.search(name):
            yield f"attaches the AWS managed policy {name}, which grants administrator or full access"


def check_trust_policy(subject: Subject) -> Iterable[str]:
    document = decode_json(subject.get("assumeRolePolicy"), "assume role policy")
    if document is UNKNOWN:
        return
    allows = [s for s in statements(document) if s.allows]
    if not allows:
        yield "the trust policy allows nobody to assume the role"
    for statement in allows:
        services = [s for s in principal_values(statement.principal, "Service") if s is not UNKNOWN]
        federated = [f for f in principal_values(statement.principal, "Federated") if f is not UNKNOWN]
        others = principal_values(statement.principal, "AWS") + principal_values(statement.principal, "CanonicalUser")
        if statement.principal == "*" or "*" in services or "*" in federated:
            yield f"{statement.label} lets any principal assume the role"
            continue
        if others:
            yield f"{statement.label} trusts AWS principals {others}; trust a service or an OIDC provider instead"
        if federated:
            if not all(isinstance(f, str) and OIDC_PROVIDER.match(f) for f in federated):
                yield f"{statement.label} trusts federated principals {federated} that are not IAM OIDC providers"
            subjects = [k for op in statement.condition.values() if isinstance(op, dict) for k in op]
            if not any(str(k).endswith(":sub") for k in subjects):
                yield f"{statement.label} trusts an OIDC provider without a ':sub' condition naming the workload"
        if not services and not federated and not others:
            yield f"{statement.label} names neither a service nor a federated OIDC provider"


POLICIES = [
    Guardrail(
        Rule(
            "kms-key-rotation",
            "Customer-managed symmetric KMS keys rotate automatically.",
            "Create keys with components.kms.CustomerManagedKey (enable_key_rotation=True).",
            tags=("kms", "encryption"),
        ),
        (KEY,),
        check_key_rotation,
    ),
    Guardrail(
        Rule(
            "kms-no-broad-key-grants",
            "KMS key policies grant kms:* to the account root only; services and roles get named actions.",
            "Keep root_administration() as the only kms:* statement; give services the KEY_USE_ACTIONS with "
            "aws:SourceAccount or encryption-context conditions (components/kms.py).",
            tags=("kms", "least-privilege"),
        ),
        (KEY, KEY_POLICY, REPLICA_KEY),
        check_key_policy_grants,
    ),
    Guardrail(
        Rule(
            "iam-no-wildcard-actions",
            "IAM identity and resource policies allow no '*' or 'service:*' action and no NotAction.",
            "Name the exact actions the code calls (components.iam.Statement rejects wildcards as it builds).",
            tags=("iam", "least-privilege"),
        ),
        (*IDENTITY_DOCUMENTS, *RESOURCE_DOCUMENTS, ROLE),
        check_no_wildcard_actions,
    ),
    Guardrail(
        Rule(
            "iam-no-wildcard-resource",
            "IAM identity policies scope actions to resource ARNs; '*' only for actions AWS cannot scope.",
            "Replace '*' with the ARNs the code uses (ctx.arn(...) or the resource's .arn); if AWS really does "
            "not support resource-level permissions for the action, add it to components.iam.UNSCOPED_ACTIONS.",
            tags=("iam", "least-privilege"),
        ),
        (*IDENTITY_DOCUMENTS, ROLE),
        check_no_wildcard_resource,
    ),
    Guardrail(
        Rule(
            "iam-no-broad-managed-policies",
            "No AWS managed policy with administrator or full access is attached (service-role policies excepted).",
            "Replace the managed policy with an inline least-privilege policy (components.iam.policy_document). "
            f"Allowed service-role policies: {', '.join(sorted(SERVICE_ROLE_MANAGED_POLICIES))}.",
            tags=("iam", "least-privilege"),
        ),
        tuple(ATTACHMENTS),
        check_managed_policies,
    ),
    Guardrail(
        Rule(
            "iam-trust-named-principal",
            "Every role's trust policy names an AWS service or a federated OIDC provider (with a ':sub' condition).",
            "Use components.iam.service_trust_policy(...) or web_identity_trust_policy(...).",
            tags=("iam", "least-privilege"),
        ),
        (ROLE,),
        check_trust_policy,
    ),
]
