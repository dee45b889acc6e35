"""What every component needs from its stack: config, providers per region, naming and identity."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.config import StackConfig
from components.naming import bucket_suffix_length, physical_name


def default_tags(config: StackConfig) -> dict[str, str]:
    """Tags every taggable resource carries, applied by the provider."""
    return {
        "Environment": config.environment,
        "Project": config.project,
        "Stack": config.stack,
        "ManagedBy": "pulumi",
        "Owner": config.tags.owner,
        "CostCenter": config.tags.cost_center,
    }


# Tag that puts a resource into the BackupVault's tag-based selection.
BACKUP_TAG = {"BackupEnabled": "true"}


@dataclass(frozen=True)
class StackContext:
    """Shared, read-only facts of one stack, handed to every component."""

    config: StackConfig
    primary: aws.Provider
    dr: aws.Provider
    account_id: pulumi.Output[str]
    partition: pulumi.Output[str]

    @classmethod
    def create(cls, config: StackConfig) -> StackContext:
        tags = default_tags(config)
        primary = aws.Provider("aws-primary", region=config.region, default_tags={"tags": tags})
        dr = aws.Provider("aws-dr", region=config.dr_region, default_tags={"tags": tags})
        invoke = pulumi.InvokeOptions(provider=primary)
        identity = aws.get_caller_identity_output(opts=invoke)
        partition = aws.get_partition_output(opts=invoke)
        return cls(config, primary, dr, identity.account_id, partition.partition)

    @property
    def project(self) -> str:
        return self.config.project

    @property
    def stack(self) -> str:
        return self.config.stack

    @property
    def region(self) -> str:
        return self.config.region

    @property
    def dr_region(self) -> str:
        return self.config.dr_region

    @property
    def is_prod(self) -> bool:
        return self.config.is_prod

    def name(self, component: str, purpose: str, service: str = "default") -> str:
        """`<project>-<stack>-<component>-<purpose>`, shortened with a hash past the service's limit."""
        return physical_name(self.project, self.stack, component, purpose, service=service)

    def bucket_name(self, component: str, purpose: str, *, region: str | None = None) -> pulumi.Output[str]:
        """`<project>-<stack>-<component>-<purpose>-<account id>-<region>`, at most 63 characters: bucket
        names are global, so two accounts (or regions) deploying the same stack never collide."""
        where = region or self.region
        base = physical_name(
            self.project, self.stack, component, purpose, service="s3", reserve=bucket_suffix_length(where)
        )
        return pulumi.Output.concat(base, "-", self.account_id, f"-{where}")

    def arn(
        self, service: str, resource: str, *, region: str | None = None, global_: bool = False
    ) -> pulumi.Output[str]:
        """An ARN in this account: `arn:<partition>:<service>:<region>:<account>:<resource>`."""
        where = "" if global_ else (region or self.region)
        return pulumi.Output.concat("arn:", self.partition, f":{service}:{where}:", self.account_id, f":{resource}")

    def stateful(self, opts: pulumi.ResourceOptions | None = None) -> pulumi.ResourceOptions:
        """Options for data-bearing resources: protected from deletion in prod."""
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=self.is_prod))
