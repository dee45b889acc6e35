"""The bootstrap stack's configuration (`account-bootstrap:*` keys plus `aws:region`), validated whole."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from components.config import TagsConfig
from components.config_types import AwsRegion, ConfigModel
from components.policy_args import PolicyArgs

Role = Literal["preview", "deploy", "review"]

# Every resource type AWS Backup knows (UpdateRegionSettings); the provider reads all of them back, so
# the bootstrap states each one to keep `pulumi preview --expect-no-changes` quiet.
BACKUP_RESOURCE_TYPES: tuple[str, ...] = (
    "Aurora", "CloudFormation", "DocumentDB", "DSQL", "DynamoDB", "EBS", "EC2", "EFS", "FSx", "Neptune",
    "Redshift", "Redshift Serverless", "RDS", "S3", "SAP HANA on Amazon EC2", "Storage Gateway", "Timestream",
    "VirtualMachine",
)  # fmt: skip
# What the platform's BackupVault protects: the app table, the app bucket and the optional MySQL database.
PLATFORM_BACKUP_TYPES: tuple[str, ...] = ("DynamoDB", "S3", "RDS")
_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")
_ENVIRONMENT = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")


class BootstrapError(Exception):
    """Every problem found in the bootstrap stack's configuration."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid bootstrap configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class BootstrapConfig(ConfigModel):
    """One AWS account's bootstrap. Validators accept None: a ConfigModel may re-validate the valid part of
    a section with its missing or invalid keys set to None, to report every error at once."""

    project: str = Field(pattern=r"^[a-z][a-z0-9-]{1,20}$", description="Pulumi project name (account-bootstrap).")
    stack: str = Field(pattern=r"^[a-z][a-z0-9-]{1,15}$", description="Pulumi stack name: one per account.")
    region: AwsRegion = Field(description="Region of the state bucket and its key (aws:region).")
    github_repository: str = Field(description="`owner/name` of the repository whose workflows assume the roles.")
    main_branch: str = Field("main", pattern=r"^[A-Za-z0-9._/-]{1,255}$", description="Branch that deploys.")
    production_environment: str = Field("production", description="GitHub environment of prod deployments.")
    review_environment: str = Field("review", description="GitHub environment of review-stack jobs.")
    roles: list[Role] = Field(["preview", "deploy", "review"], min_length=1, description="Roles to create.")
    platform_project: str = Field("platform", pattern=r"^[a-z][a-z0-9-]{1,20}$", description="Project deployed.")
    github_oidc_provider_arn: str | None = Field(
        None,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/token\.actions\.githubusercontent\.com$",
        description="An existing GitHub OIDC provider of the account (one per account); null creates it.",
    )
    deployer_role_arns: list[str] = Field(
        [],
        description="Roles of the platform's in-VPC EKS deployers (`eks.deployerRoleArn` stack output of each "
        "private-endpoint stack) that the deploy and preview roles also trust; set after the stack's first up.",
    )
    state_backend: bool = Field(True, description="Create the S3 state bucket and KMS secrets key (no Pulumi Cloud).")
    regions: list[AwsRegion] = Field(min_length=2, description="Regions the stacks use: Backup settings in each.")
    backup_opt_in: list[str] = Field(list(PLATFORM_BACKUP_TYPES), description="AWS Backup resource types opted in.")
    lambda_concurrent_executions: int | None = Field(
        None, ge=1000, description="Lambda concurrency quota to request in every region; null requests nothing."
    )
    backup_reports_role: bool = Field(
        True,
        description="Create AWS Backup's reports service-linked role (AWSServiceRoleForBackupReports), which the "
        "platform's backup key policy names; false when the account already has it.",
    )
    tags: TagsConfig
    policy: PolicyArgs = Field(PolicyArgs(), description="Waivers of the platform's policy pack, with reasons.")

    @field_validator("github_repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        if value is not None and not _REPOSITORY.match(value):
            raise ValueError("expected the GitHub repository as owner/name, e.g. example-org/platform")
        return value

    @field_validator("production_environment", "review_environment")
    @classmethod
    def _environment(cls, value: str | None) -> str | None:
        if value is not None and not _ENVIRONMENT.match(value):
            raise ValueError("a GitHub environment name: letters, digits, '.', '_' and '-'")
        return value

    @field_validator("deployer_role_arns")
    @classmethod
    def _role_arns(cls, value: list[str] | None) -> list[str] | None:
        wrong = [v for v in value or [] if not _ROLE_ARN.match(v)]
        if wrong:
            raise ValueError(f"not IAM role ARNs: {wrong}")
        return value

    @field_validator("roles", "regions", "backup_opt_in", "deployer_role_arns")
    @classmethod
    def _unique(cls, value: list[str] | None) -> list[str] | None:
        duplicates = sorted({v for v in value or [] if value.count(v) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {', '.join(duplicates)}")
        return value

    @field_validator("backup_opt_in")
    @classmethod
    def _backup_types(cls, value: list[str] | None) -> list[str] | None:
        unknown = [v for v in value or [] if v not in BACKUP_RESOURCE_TYPES]
        if unknown:
            raise ValueError(f"unknown AWS Backup resource types {unknown}; known: {', '.join(BACKUP_RESOURCE_TYPES)}")
        return value

    @model_validator(mode="after")
    def _primary_region_listed(self) -> BootstrapConfig:
        if self.regions is not None and self.region not in self.regions:
            raise ValueError(f"regions must include the primary region aws:region {self.region!r}")
        return self

    @property
    def dr_region(self) -> str:
        """The first listed region other than the primary one."""
        return next(r for r in self.regions if r != self.region)


def _key(project: str, loc: tuple[int | str, ...]) -> str:
    if not loc:
        return project
    head = "aws:region" if loc[0] == "region" else f"{project}:{loc[0]}"
    return head + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])


def parse_bootstrap_config(raw: Mapping[str, str], *, project: str, stack: str) -> BootstrapConfig:
    """Validate the engine's flat `namespace:key -> string` config map; every problem is reported."""
    document: dict[str, Any] = {"project": project, "stack": stack}
    prefix = f"{project}:"
    for key, value in raw.items():
        if key == "aws:region":
            document["region"] = value
        elif key.startswith(prefix):
            try:
                document[key[len(prefix) :]] = json.loads(value)
            except json.JSONDecodeError:
                document[key[len(prefix) :]] = value
    try:
        return BootstrapConfig.model_validate(document)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = _key(project, tuple(error["loc"]))
            message = str(error["msg"]).removeprefix("Value error, ")
            if not error["loc"]:  # a rule across keys: the message names them
                problems.append(f"{key}: {message}")
            elif error["type"] == "missing":
                problems.append(f"{key}: required but not set")
            elif error["type"] == "extra_forbidden":
                problems.append(f"{key}: unknown key")
            else:
                problems.append(f"{key}: got {json.dumps(error.get('input'), default=str)}; {message}")
        raise BootstrapError(problems) from None


def load_bootstrap_config() -> BootstrapConfig:
    """Read and validate the running bootstrap stack's configuration from the Pulumi engine."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    raw: dict[str, str] = {**get_config_env(), **CONFIG.get()}
    return parse_bootstrap_config(raw, project=pulumi.get_project(), stack=pulumi.get_stack())
