"""The exact-values check shared by the k8s/ templates and the ASL definitions."""

from __future__ import annotations

import pytest

from components.templates import TemplateError, require_exact_values


def test_matching_values_pass() -> None:
    require_exact_values("t.yaml", {"a", "b"}, {"a": 1, "b": "x"})


def test_missing_and_unused_values_are_named_together() -> None:
    with pytest.raises(
        TemplateError, match=r"t.yaml: placeholders without values \['b'\], values without placeholders \['c'\]"
    ):
        require_exact_values("t.yaml", ["a", "b"], {"a": 1, "c": 2})
