"""Entry point of the policy pack: `pulumi preview --policy-pack policy` runs this file from `policy/`.

The Pulumi CLI starts the pack with `policy/` as the script directory; the policies import the repo's
`components` (waiver model, IAM allow-list), so the repository root goes on the import path first.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, PolicyPack

from policy.policies import ALL_POLICIES
from policy.policies.waivers import with_waivers

PolicyPack(
    name="platform-guardrails",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=with_waivers(ALL_POLICIES),
    description="Encryption, least privilege, nothing public, DR copies, protection and tags.",
)
