"""The EksGitOpsCluster component resource."""

from __future__ import annotations

from typing import Any

import pulumi

from components.context import StackContext
from components.eks_gitops.args import EksGitOpsArgs

COMPONENT = "eks"


class EksGitOpsCluster(pulumi.ComponentResource):
    """Placeholder until the component lands: it refuses to run when enabled."""

    def __init__(self, name: str, ctx: StackContext, args: EksGitOpsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:EksGitOpsCluster", name, None, opts)
        raise NotImplementedError("EksGitOpsCluster is not built yet; set enabled: false for it")

    def stack_outputs(self) -> dict[str, Any]:
        return {}
