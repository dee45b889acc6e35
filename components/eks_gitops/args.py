"""Typed arguments of the EksGitOps component: the `eks` section of the stack configuration."""

from __future__ import annotations

from components.config_types import ComponentConfig


class EksGitOpsArgs(ComponentConfig):
    """Settings of the EksGitOps component, with production-sensible defaults."""
