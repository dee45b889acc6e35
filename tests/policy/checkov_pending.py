"""checkov findings of the shipped stacks that are known and not fixed yet (never skipped)."""

from __future__ import annotations

# A finding that cannot be fixed at once is listed here per stack (check id, logical name) with why, and
# removed with its fix; `make plan` fails while any is listed. Today none is.
PENDING: dict[str, set[tuple[str, str]]] = {"dev": set(), "staging": set(), "prod": set()}
