"""The stack configuration: read once, validated completely, before any resource is declared.

Keys live in the project namespace of `Pulumi.<stack>.yaml` (`platform:environment`,
`platform:featureStore`, ...) plus `aws:region`. Every error names the key, the value and what is
allowed, and all errors are reported together.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from components.backup_vault.args import BackupVaultArgs
from components.config_types import (
    CROSS_FIELD,
    AwsRegion,
    ConfigModel,
    LogRetentionDays,
    RuleProblem,
    TagValue,
    cidrs_overlap,
    rule,
)
from components.data_lake.args import DataLakeArgs
from components.eks_gitops.args import EksGitOpsArgs
from components.feature_store.args import FeatureStoreArgs, ecr_repository
from components.order_workflow.args import OrderWorkflowArgs
from components.policy_args import PolicyArgs

Environment = Literal["dev", "staging", "prod"]


class ConfigError(Exception):
    """Raised with every problem found in a stack's configuration."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class TagsConfig(ConfigModel):
    """Ownership tags applied to every taggable resource through the providers' default tags."""

    owner: TagValue = Field(description="Team that owns the stack (tag Owner).")
    cost_center: TagValue = Field(description="Cost centre billed (tag CostCenter).")


class StackConfig(ConfigModel):
    """Everything one stack of the platform is built from."""

    project: str = Field(description="Pulumi project name.")
    stack: str = Field(description="Pulumi stack name.")
    environment: Environment = Field(description="Environment class: sizing, HA and protection follow it.")
    region: AwsRegion = Field(description="Primary region (aws:region).")
    dr_region: AwsRegion = Field(description="Disaster-recovery region; must differ from the primary.")
    tags: TagsConfig
    log_retention_days: LogRetentionDays = Field(30, description="Default retention of every log group.")
    lambda_reserved_concurrency: bool | None = Field(
        None,
        description="Apply the functions' reserved concurrency; unset = in prod only. Each region's "
        "concurrent-executions quota must exceed 100 + the reservations there (a new account's 10 refuses any).",
    )
    eks: EksGitOpsArgs = EksGitOpsArgs()
    feature_store: FeatureStoreArgs = FeatureStoreArgs()
    data_lake: DataLakeArgs = DataLakeArgs()
    backup: BackupVaultArgs = BackupVaultArgs()
    orders: OrderWorkflowArgs = OrderWorkflowArgs()
    policy: PolicyArgs = Field(PolicyArgs(), description="Guardrail waivers for named resources, each with a reason.")

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @field_validator("project", "stack")
    @classmethod
    def _name_fits_resource_names(cls, value: str, info: Any) -> str:
        longest = {"project": 21, "stack": 16}[info.field_name]
        if not re.fullmatch(rf"[a-z][a-z0-9-]{{1,{longest - 1}}}", value):
            raise ValueError(
                f"the {info.field_name} name starts every physical resource name: use 2 to {longest} lowercase "
                "letters, digits and hyphens, starting with a letter"
            )
        return value

    @field_validator("dr_region")
    @classmethod
    def _dr_differs(cls, value: str, info: Any) -> str:
        primary = info.data.get("region")
        if primary is not None and value == primary:
            raise ValueError(f"{value!r} is the primary region too; choose another region for DR copies")
        return value

    @property
    def reserves_lambda_concurrency(self) -> bool:
        """Whether functions get their reserved concurrency: set explicitly, else only in prod."""
        return self.is_prod if self.lambda_reserved_concurrency is None else self.lambda_reserved_concurrency

    @rule("environment", "orders")
    def _no_sandbox_payments_in_prod(self) -> list[RuleProblem]:
        orders = self.orders
        if (
            self.is_prod
            and orders.enabled
            and orders.payment_integration == "direct"
            and orders.payment_gateway == "local"
        ):
            return [
                "orders.paymentIntegration 'direct' with orders.paymentGateway 'local' charges through the "
                "deterministic sandbox, which never moves money; prod needs paymentIntegration 'callback' "
                "(an external gateway) or a real gateway"
            ]
        return []

    @rule("environment", "feature_store")
    def _prod_alarms_reach_someone(self) -> list[RuleProblem]:
        if self.is_prod and self.feature_store.enabled and self.feature_store.alarm_email is None:
            return [
                (
                    ("feature_store", "alarmEmail"),
                    "required in prod: the feature store's alarm topic needs a subscriber (e.g. the on-call mailbox), "
                    "or its alarms reach nobody",
                )
            ]
        return []

    @rule("data_lake", "orders")
    def _lake_events_need_the_orders_bus(self) -> list[RuleProblem]:
        if self.data_lake.enabled and self.data_lake.events_to_lake and not self.orders.enabled:
            return [
                (
                    ("data_lake", "eventsToLake"),
                    "true but orders is not enabled: the events delivered to the lake come from the OrderWorkflow bus",
                )
            ]
        return []

    @rule("environment", "eks")
    def _cluster_reachable_and_signed_in(self) -> list[RuleProblem]:
        """What the cluster needs from this environment (a reachable API, SSO in prod), reported with every
        other config error instead of when the component is built."""
        return list(self.eks.stack_problems(is_prod=self.is_prod)) if self.eks.enabled else []

    @rule("eks")
    def _gitops_repository_set(self) -> list[RuleProblem]:
        if self.eks.enabled and self.eks.repo_url is None:
            return [
                (
                    ("eks", "repoUrl"),
                    "required but not set while eks is enabled: the Git URL (https or ssh) of the repository "
                    "holding k8s/, which ArgoCD syncs",
                )
            ]
        return []

    @rule("project", "stack", "environment", "eks")
    def _overlay_secrets_readable(self) -> list[RuleProblem]:
        eks = self.eks
        unreachable = eks.unreachable_environments(self.project, self.stack, self.environment) if eks.enabled else []
        if not unreachable:
            return []
        prefix = eks.secrets_prefix_for(self.project, self.stack)
        deployed = set(eks.environments_for(self.environment))
        covering = f"{self.project}/{deployed.pop()}/" if len(deployed) == 1 else f"{self.project}/"
        return [
            f"eks deploys the overlay(s) {unreachable}, whose ExternalSecrets read {self.project}/<env>/..., but "
            f"External Secrets may only read eks.secretsPrefix {prefix!r}"
            f"{'' if eks.secrets_prefix else ' (the default <project>/<stack>/)'}; set platform:eks.secretsPrefix "
            f"to {covering!r}, or deploy those environments from their own stack"
        ]

    @rule("region", "dr_region")
    def _one_partition(self) -> list[RuleProblem]:
        if partition_of(self.region) == partition_of(self.dr_region):
            return []
        return [
            f"aws:region {self.region} ({partition_of(self.region)}) and drRegion {self.dr_region} "
            f"({partition_of(self.dr_region)}) lie in different AWS partitions, which cannot copy backups or "
            "replicate to each other; choose a DR region of the same partition"
        ]

    @rule("region", "eks", "feature_store")
    def _regional_resources_in_the_region(self) -> list[RuleProblem]:
        """An ALB takes only ACM certificates of its own region; SageMaker pulls images and decrypts model
        artifacts only in the endpoint's region."""
        inference = self.feature_store.inference if self.feature_store.enabled else None
        arns = {
            ("eks", "argocdCertificateArn"): self.eks.argocd_certificate_arn if self.eks.enabled else None,
            ("feature_store", "inference", "modelDataKmsKeyArn"): inference.model_data_kms_key_arn
            if inference
            else None,
        }
        found = {key: arn.split(":")[3] for key, arn in arns.items() if arn}
        if inference is not None:
            found[("feature_store", "inference", "image")] = ecr_repository(inference.image)[1]
        return [
            (key, f"lies in {region}, not in the stack's region {self.region}; use one from {self.region}")
            for key, region in found.items()
            if region != self.region
        ]

    @rule("eks", "backup")
    def _vpcs_disjoint(self) -> list[RuleProblem]:
        database = self.backup.database
        if not (self.eks.enabled and self.backup.enabled and database.enabled):
            return []
        return [
            f"eks.vpcCidr {self.eks.vpc_cidr} overlaps backup.database.{key} {cidr}; the cluster reaches the "
            "database through peering, which needs disjoint ranges"
            for key, cidr in (("vpcCidr", database.vpc_cidr), ("drVpcCidr", database.dr_vpc_cidr))
            if cidrs_overlap(self.eks.vpc_cidr, cidr)
        ]

    @rule("environment", "lambda_reserved_concurrency", "feature_store", "data_lake", "orders")
    def _reservations_applied(self) -> list[RuleProblem]:
        if self.reserves_lambda_concurrency:
            return []
        inference = self.feature_store.inference
        configured = [
            (section, key)
            for section, model, key in (
                ("featureStore", self.feature_store, "enrich_reserved_concurrency"),
                ("featureStore.inference", inference, "predict_reserved_concurrency"),
                ("dataLake", self.data_lake, "trigger_reserved_concurrency"),
                ("orders", self.orders, "task_reserved_concurrency"),
            )
            if model is not None and key in model.model_fields_set and getattr(model, key) is not None
        ]
        return [
            f"{section}.{_camel(key)} is set, but a {self.environment} stack reserves no Lambda concurrency "
            "(a new account's quota of 10 concurrent executions refuses any reservation): remove it, or set "
            "platform:lambdaReservedConcurrency: true once the quota allows it"
            for section, key in configured
        ]


def partition_of(region: str) -> str:
    """The AWS partition of a region name."""
    for prefix, partition in (
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
    ):
        if region.startswith(prefix):
            return partition
    return "aws"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


_TOP_LEVEL_ALIASES = {"region": "aws:region"}


def _key_path(project: str, loc: tuple[int | str, ...]) -> str:
    if not loc:
        return project
    head, rest = str(loc[0]), loc[1:]
    key = _TOP_LEVEL_ALIASES.get(head, f"{project}:{head}")
    for part in rest:
        key += f"[{part}]" if isinstance(part, int) else f".{part}"
    return key


def _field_by_alias(model: type[BaseModel], alias: str):
    for name, info in model.model_fields.items():
        if alias in (name, info.alias):
            return info
    return None


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The config model that a location inside StackConfig points into."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = _field_by_alias(current, str(part))
        if info is None:
            return None
        annotation = info.annotation
        candidates = [annotation, *typing.get_args(annotation)]
        current = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if current is None:
            return None
    return current


def _allowed_keys(model: type[BaseModel] | None) -> str:
    if model is None:
        return "?"
    return ", ".join(sorted(info.alias or name for name, info in model.model_fields.items()))


ECHO_LIMIT = 60
# Credentials people paste into URLs or values: user:password@ in URLs, token-like query parameters and
# the formats of well-known tokens (GitHub, GitLab, Slack, AWS access keys, Stripe).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.I)
_SECRET_PARAMETER = re.compile(r"(?P<name>(token|secret|password|passwd|pwd|key|signature|sig)=)[^&#\s]+", re.I)
_KNOWN_TOKENS = re.compile(
    r"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|glpat-[\w-]{20,}|xox[abposr]-[\w-]{10,}|"
    r"(AKIA|ASIA)[0-9A-Z]{16}|[sr]k_(live|test)_\w{16,})"
)


def masked(text: str) -> str:
    """The text with anything that looks like a credential replaced by ***."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}***@", text)
    text = _SECRET_PARAMETER.sub(lambda m: f"{m['name']}***", text)
    return _KNOWN_TOKENS.sub("***", text)


def echo(value: Any) -> str:
    """A rejected value as JSON (null, not None), credentials masked, cut to about 60 characters."""
    text = masked(json.dumps(value, default=str, ensure_ascii=False))
    return text if len(text) <= ECHO_LIMIT else f"{text[: ECHO_LIMIT - 1]}… ({len(text)} characters)"


def _without_long_values(message: str, value: Any) -> str:
    """A validator's message quotes the value it rejected: quote it masked and cut, like `got ...`."""
    if isinstance(value, str) and value:
        for quoted in (repr(value), json.dumps(value, ensure_ascii=False), value):
            if quoted in message:
                return message.replace(quoted, echo(value))
    return masked(message)


def _describe(project: str, error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    key = _key_path(project, loc)
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        return f"{key}: unknown key; allowed keys here: {_allowed_keys(_model_at(StackConfig, loc[:-1]))}"
    if kind == "missing":
        return f"{key}: required but not set"
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc or kind == CROSS_FIELD:  # a rule across keys: the message names its keys and values
        return f"{key}: {masked(message)}"
    return f"{key}: got {echo(value)}; {_without_long_values(message, value)}"


def _decode(value: str) -> Any:
    """Config values arrive as strings; objects, lists, numbers and booleans as their JSON text."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


# Namespaces a stack file may hold besides the project's: the CLI's own (`pulumi:tags`, ...) and `aws:region`.
_CLI_NAMESPACES = ("pulumi:",)


def parse_stack_config(raw: Mapping[str, str], *, project: str, stack: str) -> StackConfig:
    """Validate the engine's flat `namespace:key -> string` config map into a StackConfig."""
    document: dict[str, Any] = {"project": project, "stack": stack}
    problems: list[str] = []
    prefix = f"{project}:"
    for full_key, value in sorted(raw.items()):
        if full_key == "aws:region":
            document["region"] = value
        elif full_key.startswith(prefix):
            key = full_key[len(prefix) :]
            if key in ("project", "stack", "region"):
                problems.append(f"{full_key}: reserved; set it through the Pulumi project, stack or aws:region")
            else:
                document[key] = _decode(value)
        elif full_key.startswith("aws:"):
            problems.append(
                f"{full_key}: not read; the program's AWS providers are explicit and take only aws:region "
                "(credentials and profiles come from the environment)"
            )
        elif not full_key.startswith(_CLI_NAMESPACES):
            problems.append(f"{full_key}: unknown namespace; this project reads {project}:<key> and aws:region")
    if "region" not in document:
        problems.append("aws:region: required but not set; run `pulumi config set aws:region <region>`")
    try:
        config = StackConfig.model_validate(document)
    except ValidationError as exc:
        problems.extend(_describe(project, e) for e in exc.errors())
        raise ConfigError(problems) from None
    except (TypeError, ValueError) as exc:  # a bug in a validator: still a message, never a traceback
        problems.append(f"{project}: the configuration could not be checked ({type(exc).__name__}: {exc})")
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    return config


def load_stack_config() -> StackConfig:
    """Read and validate the running stack's configuration from the Pulumi engine."""
    import pulumi
    from pulumi.runtime.config import CONFIG, get_config_env

    raw: dict[str, str] = {**get_config_env(), **CONFIG.get()}
    return parse_stack_config(raw, project=pulumi.get_project(), stack=pulumi.get_stack())
