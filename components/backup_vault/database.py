"""Optional pilot-light database: an encrypted RDS MySQL primary in private subnets and its
cross-region read replica in a matching small VPC in the DR region."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.backup_vault.args import DatabaseSettings
from components.context import BACKUP_TAG
from components.iam import service_trust_policy
from components.scope import Scope

MYSQL_PORT = 3306
SUBNETS_PER_VPC = 2  # RDS subnet groups need two AZs


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
    in the scope's region (`purpose` names them: `db` in the primary region, `db-dr` in the DR region)."""
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
        ingress=[{"protocol": "tcp", "from_port": MYSQL_PORT, "to_port": MYSQL_PORT, "cidr_blocks": [cidr]}],
        egress=[],
        opts=opts,
    )
    return Network(vpc, subnet_group, security_group)


@dataclass(frozen=True)
class Database:
    primary: aws.rds.Instance
    replica: aws.rds.Instance
    # The primary's private network: restore tests put their instance there too.
    network: Network


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
    primary_net = database_network(scope, purpose="db", cidr=settings.vpc_cidr)
    dr_net = database_network(scope.in_dr(), purpose="db-dr", cidr=settings.dr_vpc_cidr)
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
        username="dbadmin",
        # RDS generates the password and keeps it in Secrets Manager: nothing secret in config or state.
        manage_master_user_password=True,
        master_user_secret_kms_key_id=primary_key_arn,
        db_subnet_group_name=primary_net.subnet_group.name,
        vpc_security_group_ids=[primary_net.security_group.id],
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
        opts=scope.opts(stateful=True, depends_on=[monitoring_policy]),
    )
    replica = aws.rds.Instance(
        scope.child("db-replica"),
        identifier=scope.physical("db-replica", service="rds"),
        # A replica in another region must name its source by ARN.
        replicate_source_db=primary.arn,
        instance_class=settings.replica_instance_class,
        storage_encrypted=True,
        kms_key_id=dr_key_arn,
        db_subnet_group_name=dr_net.subnet_group.name,
        vpc_security_group_ids=[dr_net.security_group.id],
        publicly_accessible=False,
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
        opts=scope.in_dr().opts(stateful=True, depends_on=[monitoring_policy]),
    )
    return Database(primary, replica, primary_net)
