"""The stack configuration: read once, validated completely, before any resource is declared.

Keys live in the project namespace of `Pulumi.<stack>.yaml` (`platform:environment`,
`platform:featureStore`, ...) plus `aws:region`. Every error names the key, the value and what is
allowed, and all errors are reported together.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from components.backup_vault.args import BackupVaultArgs
from components.config_types import AwsRegion, ConfigModel, LogRetentionDays
from components.data_lake.args import DataLakeArgs
from components.eks_gitops.args import EksGitOpsArgs
from components.feature_store.args import FeatureStoreArgs
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

    owner: str = Field(min_length=1, description="Team that owns the stack (tag Owner).")
    cost_center: str = Field(min_length=1, description="Cost centre billed (tag CostCenter).")


class StackConfig(ConfigModel):
    """Everything one stack of the platform is built from."""

    project: str = Field(pattern=r"^[a-z][a-z0-9-]{1,20}$", description="Pulumi project name.")
    stack: str = Field(pattern=r"^[a-z][a-z0-9-]{1,15}$", description="Pulumi stack name.")
    environment: Environment = Field(description="Environment class: sizing, HA and protection follow it.")
    region: AwsRegion = Field(description="Primary region (aws:region).")
    dr_region: AwsRegion = Field(description="Disaster-recovery region; must differ from the primary.")
    tags: TagsConfig
    log_retention_days: LogRetentionDays = Field(30, description="Default retention of every log group.")
    eks: EksGitOpsArgs = EksGitOpsArgs()
    feature_store: FeatureStoreArgs = FeatureStoreArgs()
    data_lake: DataLakeArgs = DataLakeArgs()
    backup: BackupVaultArgs = BackupVaultArgs()
    orders: OrderWorkflowArgs = OrderWorkflowArgs()
    policy: PolicyArgs = Field(PolicyArgs(), description="Guardrail waivers for named resources, each with a reason.")

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    @field_validator("dr_region")
    @classmethod
    def _dr_differs(cls, value: str, info: Any) -> str:
        primary = info.data.get("region")
        if primary is not None and value == primary:
            raise ValueError(f"{value!r} is the primary region too; choose another region for DR copies")
        return value

    @model_validator(mode="after")
    def _no_sandbox_payments_in_prod(self) -> StackConfig:
        orders = self.orders
        if (
            self.is_prod
            and orders.enabled
            and orders.payment_integration == "direct"
            and orders.payment_gateway == "local"
        ):
            raise ValueError(
                "orders.paymentIntegration 'direct' with orders.paymentGateway 'local' charges through the "
                "deterministic sandbox, which never moves money; prod needs paymentIntegration 'callback' "
                "(an external gateway) or a real gateway"
            )
        return self


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
    if not loc:  # a rule across sections: the message names its keys and values
        return f"{key}: {message}"
    return f"{key}: got {json.dumps(value, default=str)}; {message}"


def _decode(value: str) -> Any:
    """Config values arrive as strings; objects, lists, numbers and booleans as their JSON text."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


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
    if "region" not in document:
        problems.append("aws:region: required but not set; run `pulumi config set aws:region <region>`")
    try:
        config = StackConfig.model_validate(document)
    except ValidationError as exc:
        problems.extend(_describe(project, e) for e in exc.errors())
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
