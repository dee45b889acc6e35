"""Optional pilot-light database: an encrypted RDS MySQL primary in private subnets and its
cross-region read replica in a matching small VPC in the DR region.

Both VPCs log their traffic and keep their default security group closed (components.vpc_guards). Both
instances accept TLS connections only (`require_secure_transport` in a parameter group per region),
IAM database authentication, and export their error and slow-query logs to log groups declared here
(CMK-encrypted, with the stack's retention) before RDS would create them unencrypted and kept forever.
With `multiAz` the replica is Multi-AZ too, so a promoted replica is as available as the primary was."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_vault.args import DatabaseSettings
from components.context import BACKUP_TAG
from components.iam import service_trust_policy
from components.scope import Scope
from components.vpc_guards import guard_vpc

MYSQL_PORT = 3306
SUBNETS_PER_VPC = 2  # RDS subnet groups need two AZs
LOG_EXPORTS = ("error", "slowquery")  # general and audit logs would copy every statement, data included


@dataclass(frozen=True)
class Network:
    vpc: aws.ec2.Vpc
    subnet_group: aws.rds.SubnetGroup
    security_group: aws.ec2.SecurityGroup


def private_subnet_cidrs(vpc_cidr: str, count: int = SUBNETS_PER_VPC) -> list[str]:
    """The first `count` /24 blocks of the VPC (or its halves, for a VPC smaller than /23)."""
    network = ipaddress.ip_network(vpc_cidr)
    prefix = max(24, network.prefixlen + 1)
    return [str(block) for block in list(network.subnets(new_prefix=prefix))[:count]]


def database_network(scope: Scope, *, purpose: str, cidr: str) -> Network:
    """A VPC with private subnets only (no internet path) and a security group open to MySQL from inside it,
    in the scope's region (`purpose` names them: `db` in the primary region, `db-dr` in the DR region), with
    flow logs under the scope's key."""
    opts, region, provider = scope.opts(), scope.where, scope.provider or scope.ctx.primary
    prefix = scope.child(purpose)
    vpc = aws.ec2.Vpc(
        f"{prefix}-vpc",
        cidr_block=cidr,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        tags={"Name": scope.physical(purpose)},
        opts=opts,
    )
    guard_vpc(scope, purpose=purpose, vpc_id=vpc.id, retention_days=scope.ctx.config.log_retention_days)
    zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOptions(provider=provider))
    subnets = [
        aws.ec2.Subnet(
            f"{prefix}-private-{index + 1}",
            vpc_id=vpc.id,
            cidr_block=block,
            availability_zone=zones.names[index],
            map_public_ip_on_launch=False,
            tags={"Name": scope.physical(f"{purpose}-private-{index + 1}")},
            opts=opts,
        )
        for index, block in enumerate(private_subnet_cidrs(cidr))
    ]
    subnet_group = aws.rds.SubnetGroup(
        f"{prefix}-subnets",
        name=scope.physical(purpose, service="rds"),
        description=f"Private subnets of the BackupVault database in {region}",
        subnet_ids=[s.id for s in subnets],
        opts=opts,
    )
    security_group = aws.ec2.SecurityGroup(
        f"{prefix}-sg",
        name=scope.physical(purpose),
        description="MySQL from inside the database VPC only",
        vpc_id=vpc.id,
        ingress=[
            {
                "description": "MySQL clients inside the database VPC",
                "protocol": "tcp",
                "from_port": MYSQL_PORT,
                "to_port": MYSQL_PORT,
                "cidr_blocks": [cidr],
            }
        ],
        egress=[],
        opts=opts,
    )
    return Network(vpc, subnet_group, security_group)


def parameter_family(engine_version: str) -> str:
    """`8.0` or `8.0.39` -> `mysql8.0`."""
    return "mysql" + ".".join(engine_version.split(".")[:2])


def tls_only_parameters(scope: Scope, *, purpose: str, engine_version: str) -> aws.rds.ParameterGroup:
    """MySQL refuses connections without TLS (`require_secure_transport`), in the scope's region."""
    return aws.rds.ParameterGroup(
        scope.child(f"{purpose}-parameters"),
        name=scope.physical(f"{purpose}-tls-only", service="rds"),
        family=parameter_family(engine_version),
        description="BackupVault database: TLS connections only",
        parameters=[{"name": "require_secure_transport", "value": "1"}],
        opts=scope.opts(),
    )


def exported_log_groups(scope: Scope, *, purpose: str, identifier: str) -> list[aws.cloudwatch.LogGroup]:
    """The log groups RDS exports the instance's logs to, encrypted with the scope's key, with a retention."""
    return [
        aws.cloudwatch.LogGroup(
            scope.child(f"{purpose}-{log}-logs"),
            name=f"/aws/rds/instance/{identifier}/{log}",
            retention_in_days=scope.ctx.config.log_retention_days,
            kms_key_id=scope.key_arn,
            opts=scope.opts(),
        )
        for log in LOG_EXPORTS
    ]


@dataclass(frozen=True)
class Database:
    primary: aws.rds.Instance
    replica: aws.rds.Instance
    # The primary's private network: restore tests put their instance there too.
    network: Network
    # The primary's master credential (username and password as JSON), encrypted with the primary key.
    credential: aws.secretsmanager.Secret


# The generated password counts once: every run generates another, which both resources ignore
# (CREDENTIAL_INPUTS), so no run shows a diff. To rotate: bump the version and leave CREDENTIAL_INPUTS empty
# for that one `up` (the new password reaches the secret and RDS together), then restore it.
CREDENTIAL_VERSION = 1
# Write-only inputs the engine must not compare run to run (each run's generated password differs).
CREDENTIAL_INPUTS = {"secret": ["secretStringWo"], "instance": ["passwordWo"]}
MASTER_USERNAME = "dbadmin"


@dataclass(frozen=True)
class Credential:
    secret: aws.secretsmanager.Secret
    username: str
    password: pulumi.Output[str]


def primary_credential(scope: Scope, key_arn: pulumi.Input[str]) -> Credential:
    """The primary's master credential in a secret of this component, encrypted with the primary key.

    RDS cannot create a read replica of a source whose master password it manages in Secrets Manager
    (RDS user guide, rds-secrets-manager.html, "Limitations": every engine but SQL Server), and the DR
    replica is the point of the pilot light. So Secrets Manager generates the password, and it reaches the
    secret and RDS as write-only arguments: never in config or code, and not in the provider's state; the
    Pulumi state keeps the inputs only as encrypted secrets (pulumi-terraform-bridge#3201). The promoted
    replica gets its own RDS-managed secret from the DR function (handlers/backup_vault/dr_orchestrate.py)."""
    secret = aws.secretsmanager.Secret(
        scope.child("db-credential"),
        name=scope.physical("db-credential"),
        description="Master user of the BackupVault primary database: JSON with username and password",
        kms_key_id=key_arn,
        recovery_window_in_days=30,
        opts=scope.opts(stateful=True),
    )
    generated = aws.secretsmanager.get_random_password_output(
        password_length=40,
        exclude_punctuation=True,
        opts=pulumi.InvokeOutputOptions(parent=scope.parent, provider=scope.provider),
    )
    password = pulumi.Output.secret(generated.random_password)
    aws.secretsmanager.SecretVersion(
        scope.child("db-credential-value"),
        secret_id=secret.id,
        secret_string_wo=pulumi.Output.json_dumps({"username": MASTER_USERNAME, "password": password}),
        secret_string_wo_version=CREDENTIAL_VERSION,
        opts=scope.opts(ignore_changes=CREDENTIAL_INPUTS["secret"]),
    )
    return Credential(secret, MASTER_USERNAME, password)


def database(
    scope: Scope,
    settings: DatabaseSettings,
    *,
    primary_key_arn: pulumi.Input[str],
    dr_key_arn: pulumi.Input[str],
) -> Database:
    """MySQL primary (encrypted, deletion protection, PI, enhanced monitoring, 7-day backups) and its
    encrypted cross-region read replica, the database the DR function promotes or scales."""
    ctx, child = scope.ctx, scope.opts()
    scope = scope.with_key(primary_key_arn)
    dr_scope = scope.in_dr(dr_key_arn)
    primary_net = database_network(scope, purpose="db", cidr=settings.vpc_cidr)
    dr_net = database_network(dr_scope, purpose="db-dr", cidr=settings.dr_vpc_cidr)
    monitoring_role = aws.iam.Role(
        scope.child("db-monitoring-role"),
        name=scope.physical("db-monitoring", service="iam"),
        description="RDS Enhanced Monitoring of the BackupVault database",
        assume_role_policy=service_trust_policy("monitoring.rds.amazonaws.com", source_account=ctx.account_id),
        opts=child,
    )
    monitoring_policy = aws.iam.RolePolicyAttachment(
        scope.child("db-monitoring-policy"),
        role=monitoring_role.name,
        policy_arn=pulumi.Output.concat(
            "arn:", ctx.partition, ":iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
        ),
        opts=child,
    )
    identifier = scope.physical("db", service="rds")
    replica_identifier = scope.physical("db-replica", service="rds")
    primary_parameters = tls_only_parameters(scope, purpose="db", engine_version=settings.engine_version)
    replica_parameters = tls_only_parameters(dr_scope, purpose="db-dr", engine_version=settings.engine_version)
    primary_logs = exported_log_groups(scope, purpose="db", identifier=identifier)
    replica_logs = exported_log_groups(dr_scope, purpose="db-dr", identifier=replica_identifier)
    credential = primary_credential(scope, primary_key_arn)
    primary = aws.rds.Instance(
        scope.child("db"),
        identifier=identifier,
        engine="mysql",
        engine_version=settings.engine_version,
        instance_class=settings.instance_class,
        allocated_storage=settings.allocated_storage_gb,
        max_allocated_storage=settings.max_allocated_storage_gb,
        storage_type="gp3",
        storage_encrypted=True,
        kms_key_id=primary_key_arn,
        username=credential.username,
        # Write-only: sent to RDS when created (or when the version changes); see CREDENTIAL_VERSION.
        password_wo=credential.password,
        password_wo_version=CREDENTIAL_VERSION,
        db_subnet_group_name=primary_net.subnet_group.name,
        vpc_security_group_ids=[primary_net.security_group.id],
        parameter_group_name=primary_parameters.name,
        iam_database_authentication_enabled=True,
        enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
        publicly_accessible=False,
        multi_az=settings.multi_az,
        backup_retention_period=settings.backup_retention_days,
        delete_automated_backups=False,
        deletion_protection=True,
        skip_final_snapshot=False,
        final_snapshot_identifier=f"{identifier}-final",
        copy_tags_to_snapshot=True,
        performance_insights_enabled=True,
        performance_insights_kms_key_id=primary_key_arn,
        performance_insights_retention_period=settings.performance_insights_retention_days,
        monitoring_interval=settings.monitoring_interval_seconds,
        monitoring_role_arn=monitoring_role.arn,
        auto_minor_version_upgrade=True,
        tags=dict(BACKUP_TAG),
        opts=scope.opts(
            stateful=True,
            depends_on=[monitoring_policy, *primary_logs],
            ignore_changes=CREDENTIAL_INPUTS["instance"],
        ),
    )
    replica = aws.rds.Instance(
        scope.child("db-replica"),
        identifier=replica_identifier,
        # A replica in another region must name its source by ARN.
        replicate_source_db=primary.arn,
        instance_class=settings.replica_instance_class,
        storage_encrypted=True,
        kms_key_id=dr_key_arn,
        db_subnet_group_name=dr_net.subnet_group.name,
        vpc_security_group_ids=[dr_net.security_group.id],
        parameter_group_name=replica_parameters.name,
        iam_database_authentication_enabled=True,
        enabled_cloudwatch_logs_exports=list(LOG_EXPORTS),
        publicly_accessible=False,
        # Multi-AZ like the primary: once promoted, the replica is the database.
        multi_az=settings.multi_az,
        # Backups on the replica so that, once promoted, it is protected from its first hour.
        backup_retention_period=settings.backup_retention_days,
        deletion_protection=True,
        # RDS cannot take a final snapshot of a read replica.
        skip_final_snapshot=True,
        copy_tags_to_snapshot=True,
        performance_insights_enabled=True,
        performance_insights_kms_key_id=dr_key_arn,
        performance_insights_retention_period=settings.performance_insights_retention_days,
        monitoring_interval=settings.monitoring_interval_seconds,
        monitoring_role_arn=monitoring_role.arn,
        auto_minor_version_upgrade=True,
        tags={"Role": "DisasterRecovery"},
        opts=dr_scope.opts(stateful=True, depends_on=[monitoring_policy, *replica_logs]),
    )
    return Database(primary, replica, primary_net, credential.secret)
