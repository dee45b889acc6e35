"""The account bootstrap: GitHub OIDC roles, the state backend, and the account-wide settings the platform
depends on. Applied once per account by an administrator; the workflows then use the roles it outputs."""

from __future__ import annotations

import functools
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
from bootstrap.github import (
    GITHUB_OIDC_HOST,
    GITHUB_OIDC_URL,
    STS_AUDIENCE,
    deployer_principals,
    role_subjects,
    trust_policy_json,
)
from bootstrap.permissions import (
    NameScope,
    Protected,
    StateBackend,
    document,
    manage_statements,
    pack,
    preview_statements,
)
from components.config import StackConfig
from components.context import StackContext
from components.iam import Statement
from components.kms import CustomerManagedKey
from components.storage import SecureBucket

# AWS Backup Audit Manager delivers report plans' reports as this service-linked role.
BACKUP_REPORTS_SERVICE = "reports.backup.amazonaws.com"
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
        return preview_statements(state, NameScope(config.platform_project), partition, account)
    scope = NameScope(config.platform_project, "" if role == "deploy" else "pr-")
    return manage_statements(scope, partition, account, state, protected)


# Stand-ins as long as the real values can be (GovCloud partition, 12-digit account): the statements are
# split into managed policies before the account is known, so each part must fit with any real value.
LONGEST_PARTITION = "aws-us-gov"
ANY_ACCOUNT = "000000000000"
KEY_ID_LENGTH = 36
BUCKET_NAME_MAX = 63  # S3's limit: whatever the naming scheme, the state bucket's name is no longer


def github_role(
    role: Role,
    config: BootstrapConfig,
    ctx: StackContext,
    oidc_arn: pulumi.Output[str],
    state: tuple[CustomerManagedKey, SecureBucket] | None,
) -> aws.iam.Role:
    """The role, its trust, and its permissions as customer managed policies (6,144 characters each)."""
    opts = pulumi.ResourceOptions(provider=ctx.primary)
    name = role_name(ctx, role)
    created = aws.iam.Role(
        f"{role}-role",
        name=name,
        description=ROLE_DESCRIPTIONS[role],
        assume_role_policy=trust_policy_json(oidc_arn, role_subjects(config, role), deployer_principals(config, role)),
        max_session_duration=3600,
        opts=opts,
    )

    def statements(partition: str, account: str, provider_arn: str, backend: Sequence[str]) -> list[Statement]:
        iam = f"arn:{partition}:iam::{account}"
        names = [role_name(ctx, r) for r in config.roles]
        protected = Protected(
            iam_arns=(*(f"{iam}:role/{n}" for n in names), *(f"{iam}:policy/{n}-*" for n in names)),
            oidc_provider_arn=provider_arn,
        )
        backend_arns = StateBackend(backend[0], backend[1]) if backend else None
        return role_statements(role, config, partition, account, backend_arns, protected)

    longest = LONGEST_PARTITION, ANY_ACCOUNT
    stand_in_backend = (
        [f"arn:{longest[0]}:s3:::{'b' * BUCKET_NAME_MAX}",
         f"arn:{longest[0]}:kms:{config.region}:{ANY_ACCOUNT}:key/{'0' * KEY_ID_LENGTH}"]
        if state is not None else []
    )  # fmt: skip
    stand_in_oidc = (
        config.github_oidc_provider_arn or f"arn:{longest[0]}:iam::{ANY_ACCOUNT}:oidc-provider/{GITHUB_OIDC_HOST}"
    )
    parts = pack(statements(*longest, stand_in_oidc, stand_in_backend))
    state_arns = [state[1].arn, state[0].arn] if state is not None else []

    def render(values: Sequence[str], indices: Sequence[int]) -> str:
        partition, account, provider_arn, *backend = values
        real = statements(partition, account, provider_arn, backend)
        return json.dumps(document([real[i] for i in indices]))

    for number, indices in enumerate(parts, start=1):
        policy = aws.iam.Policy(
            f"{role}-policy-{number}",
            name=f"{name}-{number}",
            description=f"{ROLE_DESCRIPTIONS[role]} (part {number} of {len(parts)})",
            policy=pulumi.Output.all(ctx.partition, ctx.account_id, oidc_arn, *state_arns).apply(
                functools.partial(render, indices=indices)
            ),
            opts=opts,
        )
        aws.iam.RolePolicyAttachment(
            f"{role}-policy-{number}-attachment", role=created.name, policy_arn=policy.arn, opts=opts
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


def backup_reports_role(config: BootstrapConfig, ctx: StackContext) -> aws.iam.ServiceLinkedRole | None:
    """AWS Backup's reports service-linked role, before any stack: the BackupVault's key policy names it for
    its compliance report plan, and KMS refuses a key policy whose principal does not exist yet (AWS would
    only create the role with the first report plan, which needs the key first)."""
    if not config.backup_reports_role:
        return None
    return aws.iam.ServiceLinkedRole(
        "backup-reports-service-role",
        aws_service_name=BACKUP_REPORTS_SERVICE,
        description="AWS Backup Audit Manager report delivery (the platform's BackupVault report plans)",
        opts=pulumi.ResourceOptions(provider=ctx.primary, protect=True),
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
    reports_role = backup_reports_role(config, ctx)
    lambda_concurrency_requests(config, ctx)

    pulumi.export("githubOidcProviderArn", oidc_arn)
    for role, created in roles.items():
        pulumi.export(f"{role}RoleArn", created.arn)
    if state is not None:
        key, bucket = state
        pulumi.export("backendUrl", pulumi.Output.concat("s3://", bucket.name))
        pulumi.export("secretsProvider", pulumi.Output.concat("awskms://", key.alias.name, f"?region={config.region}"))
    pulumi.export("backupRegions", config.regions)
    if reports_role is not None:
        pulumi.export("backupReportsRoleArn", reports_role.arn)
