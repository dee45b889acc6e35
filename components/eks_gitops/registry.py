"""The application's image repository: ECR with scan on push, immutable tags, a KMS key and a bounded history.

The overlays (`k8s/apps/overlays/<env>`) pull from `repository_url(...)` of their environment's stack.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.scope import Scope

APPLICATION = "api-service"
UNTAGGED_DAYS = 7


def repository_name(project: str, stack: str, slug: str = "eks") -> str:
    """`<project>-<stack>-<slug>-api-service`: each stack (and cluster) pushes and pulls its own repository."""
    return f"{project}-{stack}-{slug}-{APPLICATION}"


def repository_url(account_id: str, region: str, name: str) -> str:
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com/{name}"


def lifecycle_policy(keep_images: int) -> str:
    """Untagged layers go after a week; of the tagged images only the newest `keep_images` stay."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images after {UNTAGGED_DAYS} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": UNTAGGED_DAYS,
                    },
                    "action": {"type": "expire"},
                },
                {
                    # `any` must be the last rule (ECR evaluates rules by priority).
                    "rulePriority": 2,
                    "description": f"Keep the last {keep_images} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep_images},
                    "action": {"type": "expire"},
                },
            ]
        }
    )


def app_repository(
    scope: Scope, keep_images: int, kms_key_arn: pulumi.Input[str]
) -> tuple[aws.ecr.Repository, aws.ecr.LifecyclePolicy]:
    repository = aws.ecr.Repository(
        scope.child("app-repository"),
        name=scope.physical(APPLICATION),
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
        encryption_configurations=[
            aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=kms_key_arn)
        ],
        opts=scope.opts(stateful=True),
    )
    policy = aws.ecr.LifecyclePolicy(
        scope.child("app-repository"),
        repository=repository.name,
        policy=lifecycle_policy(keep_images),
        opts=scope.opts(),
    )
    return repository, policy
