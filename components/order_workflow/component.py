"""The OrderWorkflow component resource."""

from __future__ import annotations

from typing import Any

import pulumi

from components.context import StackContext
from components.order_workflow.args import OrderWorkflowArgs

COMPONENT = "orders"


class OrderWorkflow(pulumi.ComponentResource):
    """Placeholder until the component lands: it refuses to run when enabled."""

    def __init__(self, name: str, ctx: StackContext, args: OrderWorkflowArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:OrderWorkflow", name, None, opts)
        raise NotImplementedError("OrderWorkflow is not built yet; set enabled: false for it")

    def stack_outputs(self) -> dict[str, Any]:
        return {}
