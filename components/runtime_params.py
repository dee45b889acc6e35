"""Runtime settings of a component in SSM Parameter Store under `/<project>/<stack>/<component>/`."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import Statement


class RuntimeParameters(pulumi.ComponentResource):
    """Plain values as `String`, secrets as `SecureString` under the stack's KMS key.

    Functions get exactly `ssm:GetParametersByPath` on this component's path (and decrypt on the key
    through SSM only) via `read_statements()`.
    """

    def __init__(
        self,
        name: str,
        ctx: StackContext,
        *,
        component: str,
        kms_key_arn: pulumi.Input[str],
        values: Mapping[str, pulumi.Input[str]],
        secrets: Mapping[str, pulumi.Input[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("platform:config:RuntimeParameters", name, None, opts)
        self._ctx = ctx
        self._kms_key_arn = kms_key_arn
        self.path = f"/{ctx.project}/{ctx.stack}/{component}"
        self.has_secrets = bool(secrets)
        child = pulumi.ResourceOptions(parent=self)
        self.parameters: dict[str, aws.ssm.Parameter] = {}
        for key, value in sorted(values.items()):
            self.parameters[key] = aws.ssm.Parameter(
                f"{name}-{key}", name=f"{self.path}/{key}", type="String", insecure_value=value, opts=child
            )
        for key, value in sorted((secrets or {}).items()):
            self.parameters[key] = aws.ssm.Parameter(
                f"{name}-{key}",
                name=f"{self.path}/{key}",
                type="SecureString",
                value=pulumi.Output.secret(value),
                key_id=kms_key_arn,
                opts=child,
            )
        self.register_outputs({"path": self.path})

    def read_statements(self) -> list[Statement]:
        """What a function needs to load this component's settings, and nothing more."""
        statements = [
            Statement(
                sid="ReadRuntimeParameters",
                actions=["ssm:GetParametersByPath"],
                resources=[
                    self._ctx.arn("ssm", f"parameter{self.path}"),
                    self._ctx.arn("ssm", f"parameter{self.path}/*"),
                ],
            )
        ]
        if self.has_secrets:
            statements.append(
                Statement(
                    sid="DecryptRuntimeParameters",
                    actions=["kms:Decrypt"],
                    resources=[self._kms_key_arn],
                    conditions={"StringEquals": {"kms:ViaService": f"ssm.{self._ctx.region}.amazonaws.com"}},
                )
            )
        return statements
