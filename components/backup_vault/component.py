"""The BackupVault component resource."""

from __future__ import annotations

from typing import Any

import pulumi

from components.context import StackContext
from components.backup_vault.args import BackupVaultArgs

COMPONENT = "backup"


class BackupVault(pulumi.ComponentResource):
    """Placeholder until the component lands: it refuses to run when enabled."""

    def __init__(self, name: str, ctx: StackContext, args: BackupVaultArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:BackupVault", name, None, opts)
        raise NotImplementedError("BackupVault is not built yet; set enabled: false for it")

    def stack_outputs(self) -> dict[str, Any]:
        return {}
