"""Typed arguments of the BackupVault component: the `backup` section of the stack configuration."""

from __future__ import annotations

from components.config_types import ComponentConfig


class BackupVaultArgs(ComponentConfig):
    """Settings of the BackupVault component, with production-sensible defaults."""
