"""Every resource policy passes on real building-block/component output and fails when one input breaks it.

Each case names a resource of the compliant baseline (building blocks + resources configured as the
components configure them) or of the shipped prod stack (the EKS component), the policy, the change
that breaks it and the words the violation must say.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pytest

from offline.runner import PlanGraph
from policy.policies import RESOURCE_POLICIES
from tests.policy.conftest import POLICIES, Mutation, check, messages, mutated, set_path, with_document

# A truncated, fake private key in a Secret manifest: a credential committed to Git, which the Secret policy
# must catch (repository credentials come from Secrets Manager through External Secrets instead).
FAKE_SSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\n-----END OPENSSH PRIVATE KEY-----"  # pragma: allowlist secret
)

ROOT_ADMIN = {
    "Sid": "EnableAccountAdministration",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "kms:*",
    "Resource": "*",
}


@dataclass(frozen=True)
class Case:
    policy: str
    resource: str  # logical name in the plan
    change: Mutation
    expected: str  # words of the violation
    plan: str = "baseline"  # or "prod_plan": the shipped stack

    def __str__(self) -> str:
        return f"{self.policy}:{self.expected[:30]}"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def remove(path: str) -> Mutation:
    return set_path(path, None)


CASES = [
    # S3
    Case(
        "s3-encryption-customer-key",
        "raw-encryption",
        set_path("rules.0.applyServerSideEncryptionByDefault.sseAlgorithm", "AES256"),
        "SSE-KMS",
    ),
    Case(
        "s3-encryption-customer-key",
        "raw-encryption",
        remove("rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId"),
        "no KMS key",
    ),
    Case(
        "s3-encryption-customer-key",
        "raw-encryption",
        set_path("rules.0.applyServerSideEncryptionByDefault.kmsMasterKeyId", "alias/aws/s3"),
        "AWS managed key",
    ),
    Case(
        "s3-encryption-customer-key",
        "raw-bucket",
        set_path(
            "serverSideEncryptionConfiguration",
            {"rule": {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}},
        ),
        "inline",
    ),
    Case(
        "s3-public-access-blocked",
        "raw-public-access",
        set_path("restrictPublicBuckets", False),
        "restrictPublicBuckets",
    ),
    Case("s3-public-access-blocked", "raw-public-access", remove("blockPublicPolicy"), "blockPublicPolicy"),
    Case("s3-no-public-acl", "raw-bucket", set_path("acl", "public-read"), "public-read"),
    Case(
        "s3-tls-only-policy",
        "raw-policy",
        with_document(
            "policy",
            doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                }
            ),
        ),
        "does not deny requests without TLS",
    ),
    Case(
        "s3-tls-only-policy",
        "raw-policy",
        with_document(
            "policy",
            doc(
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "Open",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                },
            ),
        ),
        "public",
    ),
    Case(
        "s3-versioning-enabled", "raw-versioning", set_path("versioningConfiguration.status", "Suspended"), "Suspended"
    ),
    Case("s3-lifecycle-rules-effective", "raw-lifecycle", set_path("rules.0.status", "Disabled"), "not Enabled"),
    Case(
        "s3-lifecycle-rules-effective",
        "raw-lifecycle",
        remove("rules.0.transitions"),
        "neither transitions nor expires",
    ),
    # Data stores and logs
    Case(
        "dynamodb-point-in-time-recovery",
        "guard-table",
        set_path("pointInTimeRecovery.enabled", False),
        "point-in-time recovery is off",
    ),
    Case("dynamodb-encryption-customer-key", "guard-table", remove("serverSideEncryption"), "AWS owned key"),
    Case("dynamodb-encryption-customer-key", "guard-table", remove("serverSideEncryption.kmsKeyArn"), "no KMS key"),
    Case("kinesis-encryption-customer-key", "guard-stream", set_path("encryptionType", "NONE"), "'NONE'"),
    Case(
        "kinesis-encryption-customer-key", "guard-stream", set_path("kmsKeyId", "alias/aws/kinesis"), "AWS managed key"
    ),
    Case("sqs-encryption-customer-key", "guard-dlq", remove("kmsMasterKeyId"), "no KMS key"),
    Case("sqs-encryption-customer-key", "guard-dlq", set_path("kmsMasterKeyId", "alias/aws/sqs"), "AWS managed key"),
    Case("sns-encryption-customer-key", "guard-topic", remove("kmsMasterKeyId"), "no KMS key"),
    Case("log-group-encryption-customer-key", "guard-worker-logs", remove("kmsKeyId"), "no KMS key"),
    Case("log-group-retention", "guard-worker-logs", remove("retentionInDays"), "no retention"),
    Case("log-group-retention", "guard-machine-logs", set_path("retentionInDays", 0), "no retention"),
    Case("ssm-secure-string-customer-key", "guard-params-token", remove("keyId"), "no KMS key"),
    Case("ssm-secure-string-customer-key", "guard-params-token", set_path("keyId", "alias/aws/ssm"), "AWS managed key"),
    # KMS and IAM
    Case("kms-key-rotation", "guard-key-key", set_path("enableKeyRotation", False), "rotation is off"),
    Case(
        "kms-no-broad-key-grants",
        "guard-key-key",
        with_document(
            "policy",
            doc(
                ROOT_ADMIN,
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:role/app"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
            ),
        ),
        "only the account root",
    ),
    Case(
        "kms-no-broad-key-grants",
        "guard-key-key",
        with_document("policy", doc({**ROOT_ADMIN, "Principal": "*"})),
        "['*']",
    ),
    Case(
        "iam-no-wildcard-actions",
        "guard-worker-policy",
        with_document(
            "policy",
            doc(
                {
                    "Effect": "Allow",
                    "Action": "dynamodb:*",
                    "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/t",
                }
            ),
        ),
        "dynamodb:*",
    ),
    Case(
        "iam-no-wildcard-actions",
        "guard-managed-policy",
        with_document("policy", doc({"Effect": "Allow", "Action": "*", "Resource": "*"})),
        "['*']",
    ),
    Case(
        "iam-no-wildcard-actions",
        "guard-worker-policy",
        with_document("policy", doc({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})),
        "every action except",
    ),
    Case(
        "iam-no-wildcard-actions",
        "raw-policy",
        with_document(
            "policy",
            doc(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "s3:*",
                    "Resource": "arn:aws:s3:::b/*",
                }
            ),
        ),
        "s3:*",
    ),
    Case(
        "iam-no-wildcard-resource",
        "guard-worker-policy",
        with_document(
            "policy",
            doc(
                {
                    "Sid": "Features",
                    "Effect": "Allow",
                    "Action": ["dynamodb:GetItem", "xray:PutTraceSegments"],
                    "Resource": "*",
                }
            ),
        ),
        "['dynamodb:GetItem'] on every resource",
    ),
    Case(
        "iam-no-broad-managed-policies",
        "eks-cluster-policy",
        set_path("policyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
        "AdministratorAccess",
        plan="prod_plan",
    ),
    Case(
        "iam-no-broad-managed-policies",
        "eks-node-AmazonEKS_CNI_Policy",
        set_path("policyArn", "arn:aws:iam::aws:policy/SecretsManagerReadWrite"),
        "SecretsManagerReadWrite",
        plan="prod_plan",
    ),
    Case(
        "iam-trust-named-principal",
        "guard-worker-role",
        with_document(
            "assumeRolePolicy",
            doc(
                {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "sts:AssumeRole"}
            ),
        ),
        "trusts AWS principals",
    ),
    Case(
        "iam-trust-named-principal",
        "guard-worker-role",
        with_document("assumeRolePolicy", doc({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"})),
        "any principal",
    ),
    Case(
        "iam-trust-named-principal",
        "eks-external-secrets-role",
        with_document(
            "assumeRolePolicy",
            doc(
                {
                    "Effect": "Allow",
                    "Principal": {
                        "Federated": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"
                    },
                    "Action": "sts:AssumeRoleWithWebIdentity",
                }
            ),
        ),
        "without a ':sub' condition",
        plan="prod_plan",
    ),
    # Lambda, Step Functions, EventBridge
    Case("lambda-supported-python-runtime", "guard-worker-function", set_path("runtime", "python3.9"), "'python3.9'"),
    Case("lambda-supported-python-runtime", "guard-worker-function", set_path("runtime", "nodejs22.x"), "'nodejs22.x'"),
    Case(
        "lambda-owned-log-group",
        "guard-worker-function",
        remove("loggingConfig.logGroup"),
        "implicit /aws/lambda group",
    ),
    Case(
        "lambda-stream-failure-handling",
        "guard-stream-mapping",
        remove("destinationConfig"),
        "no on-failure destination",
    ),
    Case("lambda-stream-failure-handling", "guard-stream-mapping", remove("maximumRetryAttempts"), "retries forever"),
    Case(
        "lambda-stream-failure-handling",
        "guard-stream-mapping",
        set_path("bisectBatchOnFunctionError", False),
        "bisect",
    ),
    Case(
        "lambda-partial-batch-responses",
        "guard-stream-mapping",
        remove("functionResponseTypes"),
        "ReportBatchItemFailures",
    ),
    Case(
        "lambda-partial-batch-responses",
        "guard-queue-mapping",
        set_path("functionResponseTypes", []),
        "ReportBatchItemFailures",
    ),
    Case(
        "lambda-async-invoke-failure-destination",
        "guard-invoke-config",
        remove("destinationConfig"),
        "no on-failure destination",
    ),
    Case("sfn-execution-logging", "guard-machine", set_path("loggingConfiguration.level", "OFF"), "'OFF'"),
    Case(
        "sfn-execution-logging",
        "guard-machine",
        remove("loggingConfiguration.logDestination"),
        "no log group destination",
    ),
    Case("sfn-tracing", "guard-machine", remove("tracingConfiguration"), "tracing is off"),
    Case("eventbridge-target-dlq-and-retry", "guard-target", remove("deadLetterConfig"), "no dead-letter queue"),
    Case("eventbridge-target-dlq-and-retry", "guard-target", remove("retryPolicy"), "no retry policy"),
    Case(
        "eventbridge-target-dlq-and-retry",
        "guard-target",
        remove("retryPolicy.maximumEventAgeInSeconds"),
        "maximumEventAgeInSeconds",
    ),
    # EKS and Kubernetes (the EksGitOpsCluster component of the prod stack)
    Case(
        "eks-secrets-encryption",
        "eks-cluster",
        remove("encryptionConfigKeyArn"),
        "not envelope-encrypted",
        plan="prod_plan",
    ),
    Case(
        "eks-control-plane-logging",
        "eks-cluster",
        set_path("enabledClusterLogTypes", ["api"]),
        "['audit', 'authenticator']",
        plan="prod_plan",
    ),
    Case(
        "eks-public-endpoint-restricted",
        "eks-cluster",
        set_path("publicAccessCidrs", ["0.0.0.0/0"]),
        "open to ['0.0.0.0/0']",
        plan="prod_plan",
    ),
    Case(
        "eks-public-endpoint-restricted",
        "eks-cluster",
        remove("publicAccessCidrs"),
        "open to ['0.0.0.0/0', '::/0']",
        plan="prod_plan",
    ),
    Case(
        "k8s-no-key-material-in-secrets",
        "eks-argocd-in-cluster",
        set_path(
            "stringData",
            {"sshPrivateKey": FAKE_SSH_KEY},
        ),
        "'sshPrivateKey'",
        plan="prod_plan",
    ),
    Case(
        "k8s-no-key-material-in-secrets",
        "eks-argocd-in-cluster",
        set_path("data", {"identity": base64.b64encode(b"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n").decode()}),
        "'identity'",
        plan="prod_plan",
    ),
    Case(
        "k8s-no-key-material-in-secrets",
        "eks-argocd-in-cluster",
        set_path("type", "kubernetes.io/tls"),
        "kubernetes.io/tls",
        plan="prod_plan",
    ),
    Case("helm-chart-version-pinned", "eks-argocd", set_path("version", "^9.5.0"), "'^9.5.0'", plan="prod_plan"),
    Case("helm-chart-version-pinned", "eks-external-secrets", remove("version"), "None", plan="prod_plan"),
    # Backup
    Case("backup-vault-customer-key", "guard-vault", remove("kmsKeyArn"), "no KMS key"),
    Case(
        "backup-vault-customer-key",
        "guard-dr-vault",
        set_path("kmsKeyArn", "arn:aws:kms:us-west-2:123456789012:alias/aws/backup"),
        "AWS managed key",
    ),
    Case("backup-plan-cross-region-copy", "guard-plan", remove("rules.0.copyActions"), "makes no copy"),
    Case(
        "backup-plan-cross-region-copy",
        "guard-plan",
        set_path(
            "rules.0.copyActions.0.destinationVaultArn",
            "arn:aws:backup:us-east-1:123456789012:backup-vault:same-region",
        ),
        "copies only within us-east-1",
    ),
]


@pytest.fixture
def plans(request: pytest.FixtureRequest, baseline: PlanGraph) -> dict[str, PlanGraph]:
    return {"baseline": baseline, "prod_plan": request.getfixturevalue("prod_plan")}


def _resource(graph: PlanGraph, name: str, policy: str):
    """The resource of that logical name the policy judges (logical names repeat across types)."""
    found = [r for r in graph.resources if r.name == name and POLICIES[policy].applies_to(r.type)]
    assert len(found) == 1, f"{name!r} is not a single resource {policy} judges in the plan"
    return found[0]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_policy_fails_when_the_input_breaks_it(case: Case, plans: dict[str, PlanGraph]) -> None:
    graph = plans[case.plan]
    resource = _resource(graph, case.resource, case.policy)
    assert messages(check(graph, case.policy), case.policy, case.resource) == []
    broken = check(mutated(graph, resource, case.change), case.policy)
    found = messages(broken, case.policy, case.resource)
    assert any(case.expected in m for m in found), found
    assert all(v.mandatory for v in broken.violations)


# Policies whose failing cases change options or providers rather than inputs: test_platform_rules.py.
COVERED_IN_PLATFORM_RULES = {"stateful-protected-in-prod": "baseline", "required-tags": "baseline"}


@pytest.mark.parametrize("policy", RESOURCE_POLICIES, ids=lambda p: p.name)
def test_every_policy_judges_real_resources_and_they_pass(policy, plans: dict[str, PlanGraph]) -> None:
    cases = [c for c in CASES if c.policy == policy.name]
    if policy.name in COVERED_IN_PLATFORM_RULES:
        cases = [Case(policy.name, "", remove(""), "", plan=COVERED_IN_PLATFORM_RULES[policy.name])]
    assert cases, f"{policy.name} has no failing case"
    for case in cases:
        graph = plans[case.plan]
        judged = [r for r in graph.resources if policy.applies_to(r.type)]
        assert judged, f"{policy.name} judges nothing in {case.plan}"
        assert messages(check(graph, policy.name), policy.name) == []


# Resource kinds no shipped stack creates, so their cases can only run on the building blocks: no component
# keeps a secret in SSM (RuntimeParameters' SecureString path) and async functions take their dead-letter
# queue on the function itself, not through a FunctionEventInvokeConfig.
NOT_IN_SHIPPED_STACKS = {"ssm-secure-string-customer-key", "lambda-async-invoke-failure-destination"}
BASELINE_CASES = [c for c in CASES if c.plan == "baseline" and c.policy not in NOT_IN_SHIPPED_STACKS]


@pytest.mark.parametrize("case", BASELINE_CASES, ids=str)
def test_the_same_break_is_caught_on_a_component_resource_of_the_shipped_stack(
    case: Case, plans: dict[str, PlanGraph]
) -> None:
    """The baseline only stands in for the components: each break must also be caught on what a component
    really builds (the prod stack, all five components enabled), on a resource that passes as shipped."""
    kind = _resource(plans["baseline"], case.resource, case.policy).type
    graph = plans["prod_plan"]
    shipped = [r for r in graph.resources if r.type == kind]
    assert shipped, f"no component of the prod stack creates a {kind}"
    assert messages(check(graph, case.policy), case.policy) == []
    caught = [
        r.name
        for r in shipped
        if any(case.expected in m for m in messages(check(mutated(graph, r, case.change), case.policy), case.policy))
    ]
    assert caught, f"{case.policy}: no {kind} of the prod stack reports {case.expected!r} once broken"


@pytest.mark.parametrize("stack", ["dev_plan", "prod_plan", "staging_plan"])
def test_every_policy_judges_component_resources_of_each_shipped_stack(stack: str, request: pytest.FixtureRequest):
    """The passing case from real component output: each policy has something to judge in every shipped stack
    (and test_shipped_stacks.py shows they all pass)."""
    graph: PlanGraph = request.getfixturevalue(stack)
    idle = [
        p.name
        for p in RESOURCE_POLICIES
        if p.name not in NOT_IN_SHIPPED_STACKS and not any(p.applies_to(r.type) for r in graph.resources)
    ]
    assert idle == []
