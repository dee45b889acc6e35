"""The account bootstrap: GitHub OIDC roles, the state backend, and the account-wide settings the platform
depends on. Applied once per account by an administrator; the workflows then use the roles it outputs."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from bootstrap.config import (
    BACKUP_RESOURCE_TYPES,
    BootstrapConfig,
    BootstrapError,
    Role,
    load_bootstrap_config,
)
from bootstrap.github import GITHUB_OIDC_URL, STS_AUDIENCE, role_subjects, trust_policy_json
from bootstrap.permissions import (
    NameScope,
    Protected,
    StateBackend,
    document,
    manage_statements,
    preview_statements,
)
from components.config import StackConfig
from components.context import StackContext
from components.iam import Statement
from components.kms import CustomerManagedKey
from components.storage import SecureBucket

# Lambda "Concurrent executions" (Service Quotas code of the lambda service).
LAMBDA_CONCURRENCY_QUOTA = "L-B99A9384"
STATE_NONCURRENT_DAYS = 90
# Full management ("advanced features") for DynamoDB: cross-region copies, cold storage, tags, ARN
# selection. Every type that offers it is stated (the provider reads them all back); the platform uses
# none of the others.
BACKUP_MANAGEMENT: dict[str, bool] = {"DynamoDB": True, "EFS": False, "CloudFormation": False, "DSQL": False}
ROLE_DESCRIPTIONS: dict[Role, str] = {
    "preview": "GitHub pull requests: pulumi preview (read only)",
    "deploy": "GitHub main branch and production environment: pulumi up of the platform stacks",
    "review": "GitHub review environment: pulumi up/destroy of the pr-<number> review stacks only",
}


def platform_context(config: BootstrapConfig) -> StackContext:
    """The platform's StackContext for this account stack: providers in the primary and a second region
    with the ownership tags, naming `<project>-<stack>-...`, and protection (prod): the state outlives all."""
    stack_config = StackConfig.model_validate(
        {
            "project": config.project,
            "stack": config.stack,
            "environment": "prod",
            "region": config.region,
            "dr_region": config.dr_region,
            "tags": config.tags,
            **{section: {"enabled": False} for section in ("eks", "feature_store", "data_lake", "backup", "orders")},
        }
    )
    return StackContext.create(stack_config)


def github_oidc_provider(config: BootstrapConfig, ctx: StackContext) -> pulumi.Output[str]:
    if config.github_oidc_provider_arn is not None:
        return pulumi.Output.from_input(config.github_oidc_provider_arn)
    # No thumbprint: IAM trusts GitHub's certificate through its own root CA library.
    provider = aws.iam.OpenIdConnectProvider(
        "github-oidc",
        url=GITHUB_OIDC_URL,
        client_id_lists=[STS_AUDIENCE],
        opts=pulumi.ResourceOptions(provider=ctx.primary, protect=True),
    )
    return provider.arn


def state_backend(ctx: StackContext) -> tuple[CustomerManagedKey, SecureBucket]:
    """The DIY state backend: a versioned, KMS-encrypted, TLS-only bucket and the key of the stacks' secrets."""
    key = CustomerManagedKey(
        "state-secrets",
        ctx,
        component="state",
        purpose="secrets",
        description="Pulumi state bucket encryption and the stacks' secrets provider (awskms://)",
        opts=pulumi.ResourceOptions(providers=[ctx.primary]),
    )
    bucket = SecureBucket(
        "state",
        ctx,
        component="state",
        purpose="pulumi",
        kms_key_arn=key.arn,
        noncurrent_version_expiration_days=STATE_NONCURRENT_DAYS,
        opts=pulumi.ResourceOptions(provider=ctx.primary),
    )
    return key, bucket


def role_name(ctx: StackContext, role: Role) -> str:
    return ctx.name("github", role, service="iam")


def role_statements(
    role: Role, config: BootstrapConfig, partition: str, account: str, state: StateBackend | None, protected: Protected
) -> list[Statement]:
    if role == "preview":
        return preview_statements(state)
    scope = NameScope(config.platform_project, "" if role == "deploy" else "pr-")
    return manage_statements(scope, partition, account, state, protected)


def github_role(
    role: Role,
    config: BootstrapConfig,
    ctx: StackContext,
    oidc_arn: pulumi.Output[str],
    state: tuple[CustomerManagedKey, SecureBucket] | None,
) -> aws.iam.Role:
    opts = pulumi.ResourceOptions(provider=ctx.primary)
    created = aws.iam.Role(
        f"{role}-role",
        name=role_name(ctx, role),
        description=ROLE_DESCRIPTIONS[role],
        assume_role_policy=trust_policy_json(oidc_arn, role_subjects(config, role)),
        max_session_duration=3600,
        opts=opts,
    )
    state_arns = [state[1].arn, state[0].arn] if state is not None else []

    def render(values: Sequence[str]) -> str:
        partition, account, provider_arn, *backend = values
        protected = Protected(
            role_arns=tuple(f"arn:{partition}:iam::{account}:role/{role_name(ctx, r)}" for r in config.roles),
            oidc_provider_arn=provider_arn,
        )
        backend_arns = StateBackend(backend[0], backend[1]) if backend else None
        return json.dumps(document(role_statements(role, config, partition, account, backend_arns, protected)))

    aws.iam.RolePolicy(
        f"{role}-policy",
        name="least-privilege",
        role=created.id,
        policy=pulumi.Output.all(ctx.partition, ctx.account_id, oidc_arn, *state_arns).apply(render),
        opts=opts,
    )
    return created


def backup_region_settings(config: BootstrapConfig, ctx: StackContext) -> None:
    """AWS Backup opt-in per region (the types the platform backs up) and advanced DynamoDB backups, which
    the BackupVault's cross-region copies, cold storage and tag-based selection of tables need."""
    opt_in = {kind: kind in config.backup_opt_in for kind in BACKUP_RESOURCE_TYPES}
    for region in config.regions:
        aws.backup.RegionSettings(
            f"backup-settings-{region}",
            region=region,
            resource_type_opt_in_preference=opt_in,
            resource_type_management_preference=BACKUP_MANAGEMENT,
            opts=pulumi.ResourceOptions(provider=ctx.primary),
        )


def lambda_concurrency_requests(config: BootstrapConfig, ctx: StackContext) -> None:
    if config.lambda_concurrent_executions is None:
        return
    for region in config.regions:
        aws.servicequotas.ServiceQuota(
            f"lambda-concurrency-{region}",
            region=region,
            service_code="lambda",
            quota_code=LAMBDA_CONCURRENCY_QUOTA,
            value=config.lambda_concurrent_executions,
            opts=pulumi.ResourceOptions(provider=ctx.primary),
        )


def main() -> None:
    try:
        config = load_bootstrap_config()
    except BootstrapError as error:
        raise pulumi.RunError(str(error)) from None
    ctx = platform_context(config)
    oidc_arn = github_oidc_provider(config, ctx)
    state = state_backend(ctx) if config.state_backend else None
    roles = {role: github_role(role, config, ctx, oidc_arn, state) for role in config.roles}
    backup_region_settings(config, ctx)
    lambda_concurrency_requests(config, ctx)

    pulumi.export("githubOidcProviderArn", oidc_arn)
    for role, created in roles.items():
        pulumi.export(f"{role}RoleArn", created.arn)
    if state is not None:
        key, bucket = state
        pulumi.export("backendUrl", pulumi.Output.concat("s3://", bucket.name))
        pulumi.export("secretsProvider", pulumi.Output.concat("awskms://", key.alias.name, f"?region={config.region}"))
    pulumi.export("backupRegions", config.regions)
