"""One Lambda function per handler module: code archive, role, log group and settings in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import Statement, policy_document, service_trust_policy

HANDLERS_DIR = Path(__file__).resolve().parent.parent / "handlers"
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"


def _python_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.py") if p.is_file())


def handler_archive(module: str, include: Sequence[str] = ()) -> pulumi.AssetArchive:
    """Package `handlers/<module>.py` (dotted, e.g. `feature_store.enrich`), its package's `__init__`,
    `handlers/common/` and any extra sibling modules named in `include`, keeping import paths."""
    package, _, leaf = module.rpartition(".")
    package_dir = HANDLERS_DIR / package.replace(".", "/")
    wanted = [leaf, *include]
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {
        "handlers/__init__.py": pulumi.FileAsset(str(HANDLERS_DIR / "__init__.py"))
    }
    for path in _python_files(HANDLERS_DIR / "common"):
        assets[f"handlers/common/{path.name}"] = pulumi.FileAsset(str(path))
    assets[f"handlers/{package.replace('.', '/')}/__init__.py"] = pulumi.FileAsset(str(package_dir / "__init__.py"))
    for name in wanted:
        source = package_dir / f"{name}.py"
        if not source.is_file():
            raise FileNotFoundError(f"handler module {source} does not exist")
        assets[f"handlers/{package.replace('.', '/')}/{name}.py"] = pulumi.FileAsset(str(source))
    return pulumi.AssetArchive(assets)


@dataclass(frozen=True)
class FunctionSpec:
    """What differs between our functions; everything else is the platform's standard."""

    purpose: str
    module: str
    description: str
    # The physical-name slug of the owning component; Scope.function() fills it in.
    component: str = ""
    statements: Sequence[Statement] = ()
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    include: Sequence[str] = ()
    timeout: int = 30
    memory_size: int = 256
    reserved_concurrency: int | None = None
    dead_letter_arn: pulumi.Input[str] | None = None
    log_retention_days: int | None = None


def reserved_concurrency(ctx: StackContext, spec: FunctionSpec) -> int:
    """The function's reservation, or -1 (unreserved) when the stack reserves none (outside prod by default)."""
    if spec.reserved_concurrency is None or not ctx.config.reserves_lambda_concurrency:
        return -1
    return spec.reserved_concurrency


class PythonFunction(pulumi.ComponentResource):
    """A Python arm64 Lambda with its own least-privilege role and a KMS-encrypted JSON log group."""

    function: aws.lambda_.Function
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        spec: FunctionSpec,
        kms_key_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:compute:PythonFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if not spec.component:
            raise ValueError(f"{name}: FunctionSpec.component (the owning component's slug) is empty")
        function_name = ctx.name(spec.component, spec.purpose, service="lambda")
        log_group_name = f"/aws/lambda/{function_name}"
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name,
            retention_in_days=spec.log_retention_days or ctx.config.log_retention_days,
            kms_key_id=kms_key_arn,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            name=ctx.name(spec.component, f"{spec.purpose}-fn", service="iam"),
            description=f"Execution role of {function_name}",
            assume_role_policy=service_trust_policy("lambda.amazonaws.com"),
            opts=child,
        )
        statements = [
            Statement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[pulumi.Output.concat(self.log_group.arn, ":*")],
            ),
            Statement(sid="Tracing", actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"]),
            Statement(sid="DecryptEnvironment", actions=["kms:Decrypt"], resources=[kms_key_arn]),
            *spec.statements,
        ]
        if spec.dead_letter_arn is not None:
            statements.append(
                Statement(sid="DeadLetter", actions=["sqs:SendMessage"], resources=[spec.dead_letter_arn])
            )
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            name="least-privilege",
            policy=policy_document(*statements),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description=spec.description,
            runtime=RUNTIME,
            architectures=[ARCHITECTURE],
            handler=f"handlers.{spec.module}.handler",
            code=handler_archive(spec.module, spec.include),
            role=self.role.arn,
            timeout=spec.timeout,
            memory_size=spec.memory_size,
            reserved_concurrent_executions=reserved_concurrency(ctx, spec),
            kms_key_arn=kms_key_arn,
            environment={"variables": {"SERVICE_NAME": function_name, "LOG_LEVEL": "INFO", **spec.environment}},
            tracing_config={"mode": "Active"},
            logging_config={
                "log_format": "JSON",
                "log_group": self.log_group.name,
                "application_log_level": "INFO",
                "system_log_level": "WARN",
            },
            dead_letter_config={"target_arn": spec.dead_letter_arn} if spec.dead_letter_arn is not None else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group, self.policy]),
        )
        self.arn = self.function.arn
        self.name = self.function.name
        self.register_outputs({"arn": self.function.arn, "roleArn": self.role.arn})
