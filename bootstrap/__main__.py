"""Entry point of the account-bootstrap project (`cd bootstrap && pulumi up`).

The program reuses the platform's building blocks (components/), so the repository root goes on the
import path: Pulumi runs this file with bootstrap/ as the working directory.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bootstrap.program import main  # noqa: E402

main()
