"""The in-VPC deployer: a CodeBuild project in the private subnets that runs `pulumi up` as the deploy role.

With a private API endpoint nothing outside the VPC reaches Kubernetes, GitHub-hosted runners included.
The pipeline starts this project instead (`aws codebuild start-build`, README "First deploy"); the build
fetches the repository with the repository credential, logs in to Pulumi Cloud with the token secret,
assumes the deploy role and runs `pulumi up` (or, with PULUMI_OPERATION=preview, the preview role and
`pulumi preview`, for pull requests). Its own role can do nothing else: write its logs, read those two
secrets and assume those two roles (whose trust policies must name this project's role).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import pulumi
import pulumi_aws as aws
import yaml

from components.context import StackContext
from components.eks_gitops.args import InVpcDeployerArgs
from components.iam import Statement, policy_document, service_trust_policy
from components.scope import Scope

IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"
PYTHON_VERSION = "3.12"
HTTPS = 443


def git_host(repo_url: str) -> str:
    if repo_url.startswith("git@"):
        return repo_url.split("@", 1)[1].split(":", 1)[0]
    return urlparse(repo_url).hostname or ""


def buildspec(repo_url: str) -> str:
    """Clone the revision asked for, install the program's requirements and Pulumi, then `pulumi up`."""
    if repo_url.startswith("https://"):
        fetch = [
            'git config --global credential.helper \'!f() { echo "username=$REPO_USERNAME"; '
            'echo "password=$REPO_PASSWORD"; }; f\'',
        ]
    else:
        host = git_host(repo_url)
        # GitHub publishes its host keys over TLS; any other host is trusted on first use.
        known_hosts = (
            "curl -fsSL https://api.github.com/meta | python3 -c "
            '\'import json,sys; [print("github.com", k) for k in json.load(sys.stdin)["ssh_keys"]]\' '
            ">> ~/.ssh/known_hosts"
            if host == "github.com"
            else f"ssh-keyscan {host} >> ~/.ssh/known_hosts"
        )
        fetch = [
            "install -d -m 700 ~/.ssh",
            'printf "%s\\n" "$REPO_SSH_PRIVATE_KEY" > ~/.ssh/deploy_key && chmod 600 ~/.ssh/deploy_key',
            known_hosts,
            'export GIT_SSH_COMMAND="ssh -i ~/.ssh/deploy_key -o IdentitiesOnly=yes"',
        ]
    spec = {
        "version": 0.2,
        "env": {"shell": "bash"},
        "phases": {
            "install": {
                "runtime-versions": {"python": PYTHON_VERSION},
                "commands": [
                    'curl -fsSL https://get.pulumi.com | sh -s -- --version "$PULUMI_VERSION"',
                    'export PATH="$HOME/.pulumi/bin:$PATH"',
                ],
            },
            "pre_build": {
                "commands": [
                    *fetch,
                    'git clone --quiet "$REPO_URL" src && git -C src checkout --quiet "$GIT_REVISION"',
                    "python3 -m venv src/.venv && src/.venv/bin/pip install --quiet -r src/requirements.txt",
                    # Pulumi runs as the deploy (or preview) role; the build's own credentials only assume them.
                    'case "$PULUMI_OPERATION" in up) ROLE_ARN="$DEPLOY_ROLE_ARN" ;; '
                    'preview) ROLE_ARN="${PREVIEW_ROLE_ARN:?no eks.access.previewRoleArn configured}" ;; '
                    '*) echo "PULUMI_OPERATION must be up or preview, not $PULUMI_OPERATION" >&2; exit 1 ;; esac',
                    'aws configure set profile.deploy.role_arn "$ROLE_ARN"',
                    "aws configure set profile.deploy.credential_source EcsContainer",
                ],
            },
            "build": {
                "commands": [
                    'cd src && if [ "$PULUMI_OPERATION" = up ]; then set -- up --yes; else set -- preview; fi '
                    '&& AWS_PROFILE=deploy pulumi "$@" --non-interactive --stack "$PULUMI_STACK"',
                ],
            },
        },
    }
    return yaml.safe_dump(spec, sort_keys=False)


@dataclass(frozen=True)
class DeployerSecrets:
    """ARNs of the secrets the build reads and the JSON keys it takes from them."""

    repository_arn: pulumi.Input[str]
    repository_keys: tuple[str, ...]
    pulumi_token_arn: pulumi.Input[str]
    kms_key_arn: pulumi.Input[str]


def secret_variables(secrets: DeployerSecrets) -> list[aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs]:
    """Secrets as `SECRETS_MANAGER` variables (`<arn>:<json key>`): resolved by CodeBuild, never in the project."""
    names = {
        "sshPrivateKey": "REPO_SSH_PRIVATE_KEY",  # pragma: allowlist secret
        "username": "REPO_USERNAME",
        "password": "REPO_PASSWORD",  # pragma: allowlist secret
    }
    pairs = [(names[key], secrets.repository_arn, key) for key in secrets.repository_keys]
    pairs.append(("PULUMI_ACCESS_TOKEN", secrets.pulumi_token_arn, "token"))
    return [
        aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(
            name=name, value=pulumi.Output.concat(arn, ":", key), type="SECRETS_MANAGER"
        )
        for name, arn, key in pairs
    ]


def deployer_statements(
    ctx: StackContext,
    *,
    log_group_arn: pulumi.Input[str],
    subnet_arns: list[pulumi.Input[str]],
    security_group_arn: pulumi.Input[str],
    deploy_role_arn: str,
    preview_role_arn: str | None,
    secrets: DeployerSecrets,
) -> list[Statement]:
    return [
        Statement(
            sid="WriteBuildLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[pulumi.Output.concat(log_group_arn, ":*")],
        ),
        Statement(
            sid="DescribeTheVpc",
            actions=[
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcs",
            ],
            resources=["*"],
        ),
        Statement(
            # CodeBuild attaches an interface in the private subnets, with the deployer's group, for each build.
            sid="BuildInTheVpc",
            actions=["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface"],
            resources=[ctx.arn("ec2", "network-interface/*"), *subnet_arns, security_group_arn],
        ),
        Statement(
            sid="AttachToThePrivateSubnets",
            actions=["ec2:CreateNetworkInterfacePermission"],
            resources=[ctx.arn("ec2", "network-interface/*")],
            conditions={
                "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"},
                "ArnEquals": {"ec2:Subnet": subnet_arns},
            },
        ),
        Statement(
            sid="ReadDeploySecrets",
            actions=["secretsmanager:GetSecretValue"],
            resources=[secrets.repository_arn, secrets.pulumi_token_arn],
        ),
        Statement(
            sid="DecryptDeploySecrets",
            actions=["kms:Decrypt"],
            resources=[secrets.kms_key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"secretsmanager.{ctx.region}.amazonaws.com"}},
        ),
        Statement(
            sid="BecomeTheDeployOrPreviewRole",
            actions=["sts:AssumeRole"],
            resources=[deploy_role_arn, *([preview_role_arn] if preview_role_arn else [])],
        ),
    ]


@dataclass(frozen=True)
class InVpcDeployer:
    project: aws.codebuild.Project
    role: aws.iam.Role
    security_group: aws.ec2.SecurityGroup
    api_access: aws.vpc.SecurityGroupIngressRule


@dataclass(frozen=True)
class DeployerNetwork:
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Output[str]]
    subnet_arns: list[pulumi.Output[str]]
    cluster_security_group_id: pulumi.Input[str]


def in_vpc_deployer(
    scope: Scope,
    settings: InVpcDeployerArgs,
    *,
    repo_url: str,
    target_revision: str,
    deploy_role_arn: str,
    preview_role_arn: str | None,
    network: DeployerNetwork,
    secrets: DeployerSecrets,
    logs_kms_key_arn: pulumi.Input[str],
) -> InVpcDeployer:
    ctx = scope.ctx
    opts = scope.opts()
    project_name = scope.physical("deployer")
    log_group = aws.cloudwatch.LogGroup(
        scope.child("deployer-logs"),
        name=f"/aws/codebuild/{project_name}",
        retention_in_days=ctx.config.log_retention_days,
        kms_key_id=logs_kms_key_arn,
        opts=opts,
    )
    security_group = aws.ec2.SecurityGroup(
        scope.child("deployer"),
        name=project_name,
        description="In-VPC deployer builds: HTTPS out only (AWS APIs, Pulumi Cloud, Git, the cluster API)",
        vpc_id=network.vpc_id,
        egress=[
            aws.ec2.SecurityGroupEgressArgs(
                protocol="tcp", from_port=HTTPS, to_port=HTTPS, cidr_blocks=["0.0.0.0/0"], description="HTTPS"
            ),
            # ssh clones of the repository (git@ URLs).
            aws.ec2.SecurityGroupEgressArgs(
                protocol="tcp", from_port=22, to_port=22, cidr_blocks=["0.0.0.0/0"], description="git over ssh"
            ),
        ],
        opts=opts,
    )
    api_access = aws.vpc.SecurityGroupIngressRule(
        scope.child("deployer-to-api"),
        security_group_id=network.cluster_security_group_id,
        referenced_security_group_id=security_group.id,
        ip_protocol="tcp",
        from_port=HTTPS,
        to_port=HTTPS,
        description="The in-VPC deployer reaches the private Kubernetes API",
        opts=opts,
    )
    role = aws.iam.Role(
        scope.child("deployer-role"),
        name=scope.physical("deployer", service="iam"),
        assume_role_policy=service_trust_policy("codebuild.amazonaws.com", source_account=ctx.account_id),
        opts=opts,
    )
    role_policy = aws.iam.RolePolicy(
        scope.child("deployer"),
        role=role.id,
        policy=policy_document(
            *deployer_statements(
                ctx,
                log_group_arn=log_group.arn,
                subnet_arns=network.subnet_arns,
                security_group_arn=security_group.arn,
                deploy_role_arn=deploy_role_arn,
                preview_role_arn=preview_role_arn,
                secrets=secrets,
            )
        ),
        opts=opts,
    )
    plain = {
        "REPO_URL": repo_url,
        "GIT_REVISION": target_revision,
        # Fully qualified: a bare name means the token owner's default organization, which a personal
        # access token does not share with the stack (Pulumi docs, stacks: "current user account or default
        # organization"); the workflows name `<owner>/<stack>` the same way.
        "PULUMI_STACK": f"{pulumi.get_organization()}/{pulumi.get_project()}/{ctx.stack}",
        "PULUMI_VERSION": settings.pulumi_version,
        "DEPLOY_ROLE_ARN": deploy_role_arn,
        "PREVIEW_ROLE_ARN": preview_role_arn or "",
        # `up` unless the pipeline overrides it with `preview` (pull requests).
        "PULUMI_OPERATION": "up",
    }
    project = aws.codebuild.Project(
        scope.child("deployer"),
        name=project_name,
        description=f"Runs `pulumi up` for stack {ctx.stack} inside the cluster VPC (private API endpoint)",
        service_role=role.arn,
        build_timeout=settings.timeout_minutes,
        source=aws.codebuild.ProjectSourceArgs(type="NO_SOURCE", buildspec=buildspec(repo_url)),
        artifacts=aws.codebuild.ProjectArtifactsArgs(type="NO_ARTIFACTS"),
        environment=aws.codebuild.ProjectEnvironmentArgs(
            compute_type=settings.compute_type,
            image=IMAGE,
            type="LINUX_CONTAINER",
            environment_variables=[
                *(
                    aws.codebuild.ProjectEnvironmentEnvironmentVariableArgs(name=k, value=v, type="PLAINTEXT")
                    for k, v in plain.items()
                ),
                *secret_variables(secrets),
            ],
        ),
        vpc_config=aws.codebuild.ProjectVpcConfigArgs(
            vpc_id=network.vpc_id, subnets=network.subnet_ids, security_group_ids=[security_group.id]
        ),
        logs_config=aws.codebuild.ProjectLogsConfigArgs(
            cloudwatch_logs=aws.codebuild.ProjectLogsConfigCloudwatchLogsArgs(group_name=log_group.name)
        ),
        # The role's permissions exist before CodeBuild validates the VPC settings with it.
        opts=scope.opts(depends_on=[role_policy]),
    )
    return InVpcDeployer(project, role, security_group, api_access)
