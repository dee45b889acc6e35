"""Pulumi's AWSGuard rules (pulumi/pulumi-policy-aws, `src/*.ts` at 4355f3b) and where each is enforced here.

Each rule names the Pulumi types it judges. Where a shipped stack declares one of them, the rule is
enforced by a pack policy (`policy/policies`) and/or a checkov check (offline/checkov_plan.py), or the
entry says why not. offline/awsguard_parity.py renders the table in policy/README.md from this data
and the shipped plans; tests/policy/test_awsguard_parity.py keeps it current.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GuardRule:
    """One AWSGuard rule, the types it judges, and our coverage of it."""

    name: str
    types: tuple[str, ...]
    summary: str
    pack: tuple[str, ...] = ()  # pack policy names
    checkov: tuple[str, ...] = ()  # checkov check ids
    gap: str = ""  # why neither enforces it, where the types are declared


_LB = (
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:alb/loadBalancer:LoadBalancer",
    "aws:elasticloadbalancing/loadBalancer:LoadBalancer",
    "aws:elasticloadbalancingv2/loadBalancer:LoadBalancer",
    "aws:applicationloadbalancing/loadBalancer:LoadBalancer",
)
_LISTENERS = (
    "aws:lb/listener:Listener",
    "aws:alb/listener:Listener",
    "aws:elasticloadbalancingv2/listener:Listener",
)
_INSTANCE = ("aws:ec2/instance:Instance",)
_RDS = ("aws:rds/instance:Instance",)
_REDSHIFT = ("aws:redshift/cluster:Cluster",)
_ES = ("aws:elasticsearch/domain:Domain",)

AWSGUARD_RULES: tuple[GuardRule, ...] = (
    GuardRule("apigateway-stage-cached", ("aws:apigateway/stage:Stage",), "REST API stages have a cache cluster."),
    GuardRule(
        "apigateway-method-cached-and-encrypted",
        ("aws:apigateway/methodSettings:MethodSettings",),
        "REST API method responses are cached, encrypted.",
    ),
    GuardRule("apigateway-endpoint-type", ("aws:apigateway/restApi:RestApi",), "REST APIs use allowed endpoint types."),
    GuardRule("ec2-instance-detailed-monitoring-enabled", _INSTANCE, "EC2 instances have detailed monitoring."),
    GuardRule("ec2-instance-no-public-ip", _INSTANCE, "EC2 instances have no public IPv4 address."),
    GuardRule("ec2-volume-inuse", _INSTANCE, "EBS volumes are deleted on instance termination."),
    GuardRule("encrypted-volumes", _INSTANCE, "EBS volumes attached to instances are encrypted."),
    GuardRule("elb-logging-enabled", _LB, "Load balancers write access logs."),
    GuardRule("elb-deletion-protection-enabled", _LB, "Load balancers have deletion protection."),
    GuardRule("alb-http-to-https-redirection", _LISTENERS, "HTTP listeners redirect to HTTPS."),
    GuardRule(
        "security-group-no-rule-management-conflicts",
        ("aws:ec2/securityGroup:SecurityGroup",),
        "No security group has inline rules and separate rule resources at once.",
        gap=(
            "Not enforced: every security group declares its rules inline and no stack declares a "
            "SecurityGroupRule or vpc ingress/egress rule resource, so nothing can conflict today."
        ),
    ),
    GuardRule("redshift-cluster-configuration", _REDSHIFT, "Redshift clusters are encrypted and log audits."),
    GuardRule("redshift-cluster-maintenance-settings", _REDSHIFT, "Redshift clusters keep maintenance settings."),
    GuardRule("redshift-cluster-public-access", _REDSHIFT, "Redshift clusters are not public."),
    GuardRule(
        "dynamodb-table-encryption-enabled",
        ("aws:dynamodb/table:Table",),
        "DynamoDB tables are encrypted.",
        pack=("dynamodb-encryption-customer-key",),
        checkov=("CKV_AWS_119",),
    ),
    GuardRule("rds-instance-backup-enabled", _RDS, "RDS instances keep automated backups.", checkov=("CKV_AWS_133",)),
    GuardRule("rds-instance-multi-az-enabled", _RDS, "RDS instances are Multi-AZ.", checkov=("CKV_AWS_157",)),
    GuardRule("rds-instance-public-access", _RDS, "RDS instances are not public.", checkov=("CKV_AWS_17",)),
    GuardRule("rds-storage-encrypted", _RDS, "RDS storage is encrypted.", checkov=("CKV_AWS_16",)),
    GuardRule("elasticsearch-encrypted-at-rest", _ES, "Elasticsearch domains are encrypted at rest."),
    GuardRule("elasticsearch-in-vpc-only", _ES, "Elasticsearch domains are reachable in a VPC only."),
    GuardRule(
        "iam-role-no-policy-management-conflicts",
        ("aws:iam/role:Role",),
        "No role has inline/managed policies and separate policy attachment resources at once.",
        gap=(
            "Not enforced: roles carry no inline_policies or managed_policy_arns; their policies are "
            "RolePolicy and RolePolicyAttachment resources only (components/iam.py, lambda_function.py)."
        ),
    ),
    GuardRule("acm-certificate-expiration", ("aws:acm/certificate:Certificate",), "Certificates are not near expiry."),
    GuardRule(
        "cmk-backing-key-rotation-enabled",
        ("aws:kms/key:Key",),
        "Customer-managed keys rotate.",
        pack=("kms-key-rotation",),
        checkov=("CKV_AWS_7",),
    ),
    GuardRule("access-keys-rotated", ("aws:iam/accessKey:AccessKey",), "IAM access keys are rotated."),
    GuardRule(
        "mfa-enabled-for-iam-console-access",
        ("aws:iam/userLoginProfile:UserLoginProfile",),
        "IAM users with a console password have MFA.",
    ),
    GuardRule("efs-encrypted", ("aws:efs/fileSystem:FileSystem",), "EFS file systems are encrypted with KMS."),
    GuardRule(
        "s3-bucket-logging-enabled",
        ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"),
        "S3 buckets have server access logging.",
        checkov=("CKV_AWS_18",),
    ),
)
