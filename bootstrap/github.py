"""Who may assume the bootstrap roles: GitHub Actions OIDC tokens of one repository, per role a context.

GitHub puts the job's context into the token's `sub` claim: `repo:<owner>/<name>:pull_request` for a
pull-request event, `repo:<owner>/<name>:environment:<environment>` for a job in an environment, and
`repo:<owner>/<name>:ref:refs/heads/<branch>` for any other job on a branch. Each role trusts exact
subjects (StringEquals, no wildcards) and the STS audience only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi

from bootstrap.config import BootstrapConfig, Role

GITHUB_OIDC_URL = "https://token.actions.githubusercontent.com"
GITHUB_OIDC_HOST = GITHUB_OIDC_URL.removeprefix("https://")
STS_AUDIENCE = "sts.amazonaws.com"


def role_subjects(config: BootstrapConfig, role: Role) -> list[str]:
    """The `sub` claims that may assume `role`.

    - preview: pull requests of the repository (pull-request.yml previews);
    - deploy: the main branch (dev, staging, drift.yml) and the production environment (prod);
    - review: the review environment (review-stack.yml, review-reaper.yml).
    """
    repo = f"repo:{config.github_repository}"
    if role == "preview":
        return [f"{repo}:pull_request"]
    if role == "deploy":
        return [f"{repo}:ref:refs/heads/{config.main_branch}", f"{repo}:environment:{config.production_environment}"]
    return [f"{repo}:environment:{config.review_environment}"]


def deployer_principals(config: BootstrapConfig, role: Role) -> list[str]:
    """The in-VPC EKS deployers' roles (CodeBuild) that may assume `role`: they run `pulumi up` as the deploy
    role and pull requests' `pulumi preview` as the preview role, where GitHub's runners cannot reach a
    private Kubernetes API."""
    return list(config.deployer_role_arns) if role in ("deploy", "preview") else []


def trust_policy(provider_arn: str, subjects: Sequence[str], deployers: Sequence[str] = ()) -> dict[str, Any]:
    """AssumeRoleWithWebIdentity for exactly these subjects of the GitHub OIDC provider, and AssumeRole for
    exactly these deployer roles (none by default)."""
    if not subjects:
        raise ValueError("a GitHub OIDC trust policy needs at least one subject")
    in_vpc = [
        {
            "Sid": "InVpcDeployers",
            "Effect": "Allow",
            "Principal": {"AWS": list(deployers)},
            "Action": "sts:AssumeRole",
        }
    ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GitHubActions",
                "Effect": "Allow",
                "Principal": {"Federated": provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": list(subjects),
                    }
                },
            },
            *(in_vpc if deployers else []),
        ],
    }


def trust_policy_json(
    provider_arn: pulumi.Input[str], subjects: Sequence[str], deployers: Sequence[str] = ()
) -> pulumi.Output[str]:
    return pulumi.Output.from_input(provider_arn).apply(lambda arn: json.dumps(trust_policy(arn, subjects, deployers)))
