"""The Secrets Manager secrets the cluster reads: created empty and KMS-encrypted, filled by an operator.

Values never pass through Pulumi (no SecretVersion): the README's first-deploy section lists the
`aws secretsmanager put-secret-value` commands, and External Secrets copies them into the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.eks_gitops.args import EksGitOpsArgs
from components.iam import Statement
from components.scope import Scope

REPOSITORY = "argocd/repository"
NOTIFICATIONS = "argocd/slack"
DEPLOYER_TOKEN = "deployer/pulumi-access-token"  # noqa: S105 - a secret's name, not a secret


@dataclass(frozen=True)
class SecretSpec:
    """One secret the platform needs: where it lives (under the stack's prefix) and what JSON it holds."""

    output: str
    relative_name: str
    description: str
    json_keys: tuple[str, ...]

    def name(self, prefix: str) -> str:
        return f"{prefix}{self.relative_name}"


def cluster_prefix(prefix: str, slug: str) -> str:
    """Where one cluster's own secrets live: under the stack's prefix (which External Secrets may read) and the
    cluster's slug, so two clusters in one stack never share a secret."""
    return f"{prefix}{slug}/"


def repository_keys(repo_url: str) -> tuple[str, ...]:
    """JSON properties of the repository credential: a deploy key for ssh URLs, a token for https URLs."""
    return ("username", "password") if repo_url.startswith("https://") else ("sshPrivateKey",)


def required_secrets(args: EksGitOpsArgs, repo_url: str) -> list[SecretSpec]:
    """Every secret the stack's configuration makes the cluster (or its deployer) read."""
    specs = [
        SecretSpec(
            "repositoryCredentialSecretArn",
            REPOSITORY,
            "Git credential ArgoCD (and the in-VPC deployer) use to read the GitOps repository",
            repository_keys(repo_url),
        ),
        SecretSpec("notificationTokenSecretArn", NOTIFICATIONS, "Slack bot token of ArgoCD notifications", ("token",)),
    ]
    if args.argocd_oidc is not None and args.argocd_oidc.client_secret_name is not None:
        specs.append(
            SecretSpec(
                "oidcClientSecretArn",
                args.argocd_oidc.client_secret_name,
                f"OIDC client secret of ArgoCD SSO ({args.argocd_oidc.issuer})",
                ("clientSecret",),
            )
        )
    if args.in_vpc_deployer.enabled:
        specs.append(
            SecretSpec(
                "deployerTokenSecretArn",
                DEPLOYER_TOKEN,
                "Pulumi Cloud access token the in-VPC deployer logs in with",
                ("token",),
            )
        )
    return specs


def create_secrets(
    scope: Scope, prefix: str, specs: list[SecretSpec], kms_key_arn: pulumi.Input[str]
) -> dict[str, aws.secretsmanager.Secret]:
    """One empty secret per spec, encrypted with the stack's key, protected in prod; keyed by output name."""
    secrets = {}
    for spec in specs:
        keys = ", ".join(spec.json_keys)
        secrets[spec.output] = aws.secretsmanager.Secret(
            scope.child(f"secret-{spec.relative_name.replace('/', '-')}"),
            name=spec.name(prefix),
            description=f"{spec.description}. JSON with {keys}; filled with put-secret-value, never by Pulumi.",
            kms_key_id=kms_key_arn,
            # Deleting a secret by mistake can be undone within the window; dev keeps the minimum.
            recovery_window_in_days=30 if scope.ctx.is_prod else 7,
            opts=scope.opts(stateful=True),
        )
    return secrets


def decrypt_statement(kms_key_arn: pulumi.Input[str], region: str) -> Statement:
    """What a reader of these secrets needs on their key: decrypt, only through Secrets Manager."""
    return Statement(
        sid="DecryptStackSecrets",
        actions=["kms:Decrypt"],
        resources=[kms_key_arn],
        conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
    )
