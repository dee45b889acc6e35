"""What each bootstrap role may do, as IAM statements built from plain strings (pure, testable).

- preview: read only. `pulumi preview` evaluates the program, whose only AWS calls are its data
  sources (caller identity, partition, region: no permission needed; availability zones:
  ec2:DescribeAvailabilityZones), and reads the stack's state and secrets when the state lives in the
  bootstrap bucket. Nothing it holds can change a resource itself; its one other grant starts (and reads)
  the builds of the platform's in-VPC EKS deployers, which preview private-endpoint stacks as this role.
- deploy / review: manage the resources of the services the platform uses, scoped to the account and,
  wherever the ARN carries the name, to the platform's names: `platform-*` for the deploy role,
  `platform-pr-*` (review stacks only) for the review role. The review role has no EC2, EKS or RDS:
  review stacks have no cluster and no database. Both are denied any change to the bootstrap itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.iam import NETWORK_DESCRIBE_ACTIONS, UNSCOPED_ACTIONS, PolicyError, Statement

READ_VERBS: tuple[str, ...] = ("Describe", "Get", "List", "BatchGet")
# IAM: a customer managed policy holds at most 6,144 characters (whitespace not counted).
MANAGED_POLICY_CHARACTERS = 6_144
# Service-linked roles AWS creates on first use of EKS, managed node groups, RDS, SageMaker autoscaling
# and the load balancer controller's ALBs; the deploy role may create exactly these.
SERVICE_LINKED_ROLES: tuple[str, ...] = (
    "eks.amazonaws.com",
    "eks-nodegroup.amazonaws.com",
    "rds.amazonaws.com",
    "sagemaker.application-autoscaling.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
)
# Run the in-VPC EKS deployer of a private-endpoint stack and wait for its result (.github/workflows).
DEPLOYER_BUILD_ACTIONS: tuple[str, ...] = ("codebuild:StartBuild", "codebuild:BatchGetBuilds")
MANAGE: tuple[str, ...] = ("Create*", "Delete*", "Update*", "Put*", "Tag*", "Untag*", "Describe*", "Get*", "List*")
# Secrets Manager: the secrets only. Their values are written by people, never read nor put by a deployment.
SECRET_VERBS: tuple[str, ...] = (
    "Create*", "Delete*", "Update*", "Tag*", "Untag*", "Describe*", "List*", "GetResourcePolicy", "PutResourcePolicy",
)  # fmt: skip


@dataclass(frozen=True)
class NameScope:
    """The platform names a role may manage: every stack (`stacks=""`) or the review stacks (`"pr-"`)."""

    project: str
    stacks: str = ""

    @property
    def review(self) -> bool:
        return self.stacks != ""

    def fields(self, partition: str, account: str) -> dict[str, str]:
        return {
            "p": partition,
            "a": account,
            "h": f"{self.project}-{self.stacks}*",
            "u": f"{self.project}_{self.stacks.replace('-', '_')}*",
            "s": f"/{self.project}/{self.stacks}*",
            "t": f"{self.project}/{self.stacks}*",
        }


@dataclass(frozen=True)
class ServiceScope:
    """One service: its IAM prefix, the action families a deployment uses, the ARNs it may touch."""

    service: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...] = MANAGE
    review: bool = True  # review stacks use it too
    deploy_resources: tuple[str, ...] = ()  # ARNs only the deploy role needs (what review stacks never build)

    def statement(self, scope: NameScope, partition: str, account: str) -> Statement:
        fields = scope.fields(partition, account)
        patterns = self.resources if scope.review else (*self.resources, *self.deploy_resources)
        return Statement(
            sid=f"Manage{self.service.title().replace('-', '')}",
            actions=[f"{self.service}:{verb}" for verb in self.verbs],
            resources=[pattern.format(**fields) for pattern in patterns],
        )


# ARN patterns: {p} partition, {a} account, {h} `platform-<stacks>*`, {u} `platform_<stacks>*` (Glue,
# restore tests, Backup frameworks and report plans), {s} `/platform/<stacks>*` (SSM parameters),
# {t} `platform/<stacks>*` (Secrets Manager). Services whose resources are named by id (KMS keys, VPCs,
# API Gateway APIs, Backup plans) are scoped to the account; Route 53 health checks carry neither an
# account nor a name (global, by id).
SERVICES: tuple[ServiceScope, ...] = (
    ServiceScope("s3", ("arn:{p}:s3:::{h}", "arn:{p}:s3:::{h}/*")),
    ServiceScope("dynamodb", ("arn:{p}:dynamodb:*:{a}:table/{h}",)),
    ServiceScope(
        "lambda",
        ("arn:{p}:lambda:*:{a}:function:{h}", "arn:{p}:lambda:*:{a}:event-source-mapping:*"),
        (*MANAGE, "AddPermission", "RemovePermission", "PublishVersion"),
    ),
    ServiceScope("logs", ("arn:{p}:logs:*:{a}:log-group:*{h}",), (*MANAGE, "AssociateKmsKey", "DisassociateKmsKey")),
    ServiceScope("cloudwatch", ("arn:{p}:cloudwatch:*:{a}:alarm:{h}", "arn:{p}:cloudwatch::{a}:dashboard/{h}")),
    ServiceScope(
        "events",
        ("arn:{p}:events:*:{a}:rule/{h}", "arn:{p}:events:*:{a}:event-bus/{h}", "arn:{p}:events:*:{a}:archive/{h}"),
        (*MANAGE, "RemoveTargets", "EnableRule", "DisableRule"),
        deploy_resources=("arn:{p}:events:*:{a}:endpoint/{h}",),  # prod's global endpoint of the orders bus
    ),
    ServiceScope("scheduler", ("arn:{p}:scheduler:*:{a}:schedule/*/{h}",)),  # schedules of any group
    ServiceScope(
        "firehose",
        ("arn:{p}:firehose:*:{a}:deliverystream/{h}",),
        (*MANAGE, "StartDeliveryStreamEncryption", "StopDeliveryStreamEncryption"),
        review=False,
    ),
    ServiceScope(
        "kinesis", ("arn:{p}:kinesis:*:{a}:stream/{h}",), (*MANAGE, "AddTagsToStream", "RemoveTagsFromStream")
    ),
    ServiceScope("sqs", ("arn:{p}:sqs:*:{a}:{h}",), (*MANAGE, "SetQueueAttributes", "AddPermission")),
    ServiceScope("sns", ("arn:{p}:sns:*:{a}:{h}",), (*MANAGE, "SetTopicAttributes", "Subscribe", "Unsubscribe")),
    ServiceScope("states", ("arn:{p}:states:*:{a}:stateMachine:{h}",)),
    ServiceScope(
        "glue",
        (
            "arn:{p}:glue:*:{a}:catalog",
            "arn:{p}:glue:*:{a}:database/{u}",
            "arn:{p}:glue:*:{a}:table/{u}/*",
            "arn:{p}:glue:*:{a}:crawler/{h}",
            "arn:{p}:glue:*:{a}:job/{h}",
        ),
    ),
    ServiceScope("athena", ("arn:{p}:athena:*:{a}:workgroup/{h}",), (*MANAGE, "BatchGetNamedQuery")),
    ServiceScope(
        "backup",
        (
            "arn:{p}:backup:*:{a}:backup-vault:{h}",
            "arn:{p}:backup:*:{a}:backup-plan:*",
            "arn:{p}:backup:*:{a}:restore-testing-plan:{u}",
            "arn:{p}:backup:*:{a}:framework:{u}",
            "arn:{p}:backup:*:{a}:report-plan:{u}",
        ),
        review=False,
    ),
    ServiceScope(
        "sagemaker",
        (
            "arn:{p}:sagemaker:*:{a}:model/{h}",
            "arn:{p}:sagemaker:*:{a}:endpoint-config/{h}",
            "arn:{p}:sagemaker:*:{a}:endpoint/{h}",
        ),
        (*MANAGE, "AddTags", "DeleteTags"),
    ),
    ServiceScope(
        "apigateway",
        ("arn:{p}:apigateway:*::/apis", "arn:{p}:apigateway:*::/apis/*", "arn:{p}:apigateway:*::/tags/*"),
        ("GET", "POST", "PUT", "PATCH", "DELETE"),
    ),
    ServiceScope(
        "application-autoscaling",
        ("arn:{p}:application-autoscaling:*:{a}:scalable-target/*",),
        (*MANAGE, "RegisterScalableTarget", "DeregisterScalableTarget"),
        review=False,  # review stacks serve the model serverless: no endpoint autoscaling
    ),
    ServiceScope("ssm", ("arn:{p}:ssm:*:{a}:parameter{s}",), (*MANAGE, "AddTagsToResource", "RemoveTagsFromResource")),
    ServiceScope(
        "kms",
        ("arn:{p}:kms:*:{a}:key/*", "arn:{p}:kms:*:{a}:alias/{h}"),
        # Key use too: S3 uploads into SSE-KMS buckets, and DynamoDB, RDS, Kinesis and Lambda creating
        # encrypted resources on the deployer's behalf (grants, data keys).
        (
            *MANAGE,
            "EnableKeyRotation",
            "ScheduleKeyDeletion",
            "CancelKeyDeletion",
            "CreateGrant",
            "Encrypt",
            "Decrypt",
            "ReEncrypt*",
            "GenerateDataKey*",
        ),
    ),
    ServiceScope(
        "iam",
        ("arn:{p}:iam::{a}:role/{h}", "arn:{p}:iam::{a}:policy/{h}"),
        (*MANAGE, "PassRole", "AttachRolePolicy", "DetachRolePolicy"),
        deploy_resources=("arn:{p}:iam::{a}:oidc-provider/oidc.eks.*",),  # the EKS clusters' IRSA providers
    ),
    ServiceScope(
        "secretsmanager",
        ("arn:{p}:secretsmanager:*:{a}:secret:{t}",),
        # The secrets only: their values are written by people, never read by the deployment.
        (
            "Create*",
            "Delete*",
            "Update*",
            "Tag*",
            "Untag*",
            "Describe*",
            "List*",
            "GetResourcePolicy",
            "PutResourcePolicy",
        ),
        review=False,
    ),
    ServiceScope("ecr", ("arn:{p}:ecr:*:{a}:repository/{h}",), review=False),
    ServiceScope(
        "codebuild",
        ("arn:{p}:codebuild:*:{a}:project/{h}",),
        (*MANAGE, "BatchGetProjects", *(a.split(":")[1] for a in DEPLOYER_BUILD_ACTIONS)),
        review=False,
    ),  # the private-endpoint EKS deployer: built by the stack, started by the pipeline
    ServiceScope(
        "route53",
        ("arn:{p}:route53:::healthcheck/*",),
        ("GetHealthCheck*", "UpdateHealthCheck", "DeleteHealthCheck", "ChangeTagsForResource", "ListTagsForResource"),
        review=False,
    ),  # the orders global endpoint's health check
    ServiceScope(
        "ec2",
        ("arn:{p}:ec2:*:{a}:*",),
        (
            *MANAGE,
            "Associate*",
            "Disassociate*",
            "Attach*",
            "Detach*",
            "Authorize*",
            "Revoke*",
            "Allocate*",
            "Release*",
            "Modify*",
            "Replace*",
        ),
        review=False,
    ),
    ServiceScope(
        "eks",
        (
            "arn:{p}:eks:*:{a}:cluster/{h}",
            "arn:{p}:eks:*:{a}:nodegroup/{h}/*",
            "arn:{p}:eks:*:{a}:addon/{h}/*",
            "arn:{p}:eks:*:{a}:access-entry/{h}/*",
            "arn:{p}:eks:*:{a}:podidentityassociation/{h}/*",
        ),
        (*MANAGE, "Associate*", "Disassociate*"),
        review=False,
    ),
    ServiceScope(
        "rds",
        (
            "arn:{p}:rds:*:{a}:db:{h}",
            "arn:{p}:rds:*:{a}:subgrp:{h}",
            "arn:{p}:rds:*:{a}:pg:*",
            "arn:{p}:rds:*:{a}:og:*",
        ),
        (*MANAGE, "AddTagsToResource", "RemoveTagsFromResource", "ModifyDBInstance", "PromoteReadReplica"),
        review=False,
    ),
)

# Calls AWS authorises only on `"*"` (no resource type), named one by one, never as families: creating a
# key, Glue security configurations (no ARN), and the reads the AWS provider makes by filter, not by ARN.
PROGRAM_EC2_CALLS: tuple[str, ...] = ("ec2:DescribeAvailabilityZones",)
ACCOUNT_WIDE_ACTIONS: tuple[str, ...] = (
    "kms:CreateKey",
    "kms:ListAliases",
    "glue:CreateSecurityConfiguration",
    "glue:GetSecurityConfiguration",
    "glue:GetSecurityConfigurations",
    "glue:DeleteSecurityConfiguration",
    "logs:DescribeLogGroups",
    "ssm:DescribeParameters",
    "lambda:CreateEventSourceMapping",
    "lambda:ListEventSourceMappings",
    *PROGRAM_EC2_CALLS,
)
# The same kind of calls for what only the deploy role builds: the VPCs and node groups of EKS and of
# the database (EC2 reads support no resource-level permissions), and SageMaker endpoint autoscaling.
DEPLOY_WIDE_ACTIONS: tuple[str, ...] = (
    *(a for a in NETWORK_DESCRIBE_ACTIONS if a.startswith("ec2:")),
    "ec2:DescribeVpcAttribute",
    "ec2:DescribeNatGateways",
    "ec2:DescribeNetworkAcls",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribePrefixLists",
    "ec2:DescribeSecurityGroupRules",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeAddressesAttribute",
    "ec2:DescribeInstanceTypes",
    "eks:DescribeAddonVersions",
    "route53:CreateHealthCheck",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
)


@dataclass(frozen=True)
class StateBackend:
    """The bootstrap's state bucket and the KMS key of the stacks' secrets."""

    bucket_arn: str
    key_arn: str


@dataclass(frozen=True)
class Protected:
    """The bootstrap's own IAM resources (its roles and their policies): no role it creates may change them."""

    iam_arns: tuple[str, ...]
    oidc_provider_arn: str


def preview_statements(
    state: StateBackend | None, scope: NameScope | None = None, partition: str = "aws", account: str = ""
) -> list[Statement]:
    statements = [Statement(sid="ProgramDataSources", actions=list(PROGRAM_EC2_CALLS))]
    # No codebuild:StartBuild here: a build's settings (PULUMI_OPERATION) cannot be limited by IAM, and the
    # deployer's own role may become the deploy role, so a role that can start it could deploy prod without
    # the production approvers. Pull requests plan private-endpoint stacks offline only (pull-request.yml).
    if state is not None:
        statements += [
            Statement(
                sid="ReadState",
                actions=["s3:GetObject", "s3:ListBucket"],
                resources=[state.bucket_arn, f"{state.bucket_arn}/*"],
            ),
            Statement(sid="DecryptStackSecrets", actions=["kms:Decrypt", "kms:DescribeKey"], resources=[state.key_arn]),
        ]
    return statements


def manage_statements(
    scope: NameScope, partition: str, account: str, state: StateBackend | None, protected: Protected
) -> list[Statement]:
    """The deploy role (scope = every stack of the project) or the review role (scope = `pr-` stacks)."""
    review = scope.review
    statements = [s.statement(scope, partition, account) for s in SERVICES if s.review or not review]
    # Review stacks build no network and no endpoint autoscaling.
    wide = list(ACCOUNT_WIDE_ACTIONS) if review else list(dict.fromkeys((*ACCOUNT_WIDE_ACTIONS, *DEPLOY_WIDE_ACTIONS)))
    statements.append(Statement(sid="AccountWideCalls", actions=wide))
    if not review:
        statements.append(
            Statement(
                sid="ServiceLinkedRoles",
                actions=["iam:CreateServiceLinkedRole"],
                resources=[f"arn:{partition}:iam::{account}:role/aws-service-role/*"],
                conditions={"StringEquals": {"iam:AWSServiceName": list(SERVICE_LINKED_ROLES)}},
            )
        )
    if state is not None:
        # DIY backend layout: .pulumi/{stacks,history,backups,locks}/<...>/<project>/<stack>...
        objects = f"{state.bucket_arn}/.pulumi/*/{scope.stacks}*" if review else f"{state.bucket_arn}/*"
        statements += [
            Statement(sid="ListState", actions=["s3:ListBucket"], resources=[state.bucket_arn]),
            Statement(
                sid="WriteState", actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], resources=[objects]
            ),
            Statement(
                sid="StackSecrets",
                actions=["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[state.key_arn],
            ),
        ]
    statements.append(protect_bootstrap(protected, state))
    return statements


def protect_bootstrap(protected: Protected, state: StateBackend | None) -> Statement:
    resources = [*protected.iam_arns, protected.oidc_provider_arn]
    actions = ["iam:*"]
    if state is not None:
        resources += [state.bucket_arn, state.key_arn]
        actions += [
            "s3:DeleteBucket",
            "s3:PutBucketPolicy",
            "s3:PutBucketVersioning",
            "s3:PutEncryptionConfiguration",
            "kms:ScheduleKeyDeletion",
            "kms:DisableKey",
            "kms:PutKeyPolicy",
        ]
    return Statement(sid="DenyChangesToTheBootstrap", effect="Deny", actions=actions, resources=resources)


def document(statements: Sequence[Statement]) -> dict[str, Any]:
    """The policy document, each statement checked: no wildcard actions; `"*"` only for account-wide calls."""
    for statement in statements:
        if statement.effect == "Allow" and "*" in list(statement.resources):
            # Named actions only (no families), each one AWS cannot scope to a resource.
            broad = sorted(set(statement.actions) - {*ACCOUNT_WIDE_ACTIONS, *DEPLOY_WIDE_ACTIONS} - UNSCOPED_ACTIONS)
            if broad:
                raise PolicyError(f"actions {broad} need resource ARNs, not '*'")
        else:
            statement.check()
    return {"Version": "2012-10-17", "Statement": [s.render() for s in statements]}


def _compact_size(document_or_statement: Any) -> int:
    return len(json.dumps(document_or_statement, separators=(",", ":")))


def pack(statements: Sequence[Statement], limit: int = MANAGED_POLICY_CHARACTERS) -> list[list[int]]:
    """Split statements, in order, into as few policy documents of at most `limit` characters as fit."""
    overhead = _compact_size({"Version": "2012-10-17", "Statement": []})
    groups: list[list[int]] = []
    size = limit
    for index, statement in enumerate(statements):
        needed = _compact_size(statement.render()) + 1
        if overhead + needed > limit:
            raise PolicyError(f"statement {statement.sid} alone is longer than a policy ({limit} characters)")
        if size + needed > limit:
            groups.append([])
            size = overhead
        groups[-1].append(index)
        size += needed
    return groups


def is_read_action(action: str) -> bool:
    service, _, verb = action.partition(":")
    return (service == "kms" and verb in ("Decrypt", "DescribeKey")) or verb.startswith(READ_VERBS)
