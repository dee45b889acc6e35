#!/usr/bin/env bash
# Destroy one review stack and remove it: scripts/destroy-review-stack.sh <org>/pr-<number>
# Used when a pull request closes (review-stack.yml) and by the nightly reaper (review-reaper.yml).
# Refuses any stack that is not a review stack, so a typo can never reach dev, staging or prod.
set -euo pipefail

stack="${1:?usage: destroy-review-stack.sh <org>/pr-<number>}"
if ! [[ "$stack" =~ ^([A-Za-z0-9_.-]+/){0,2}pr-[1-9][0-9]{0,6}$ ]]; then
  echo "refusing to destroy $stack: only review stacks (pr-<number>) are destroyed here" >&2
  exit 2
fi
if ! pulumi stack select "$stack" --non-interactive >/dev/null 2>&1; then
  echo "no stack $stack: nothing to destroy"
  exit 0
fi
pulumi destroy --yes --skip-preview --non-interactive --stack "$stack"
pulumi stack rm --yes --non-interactive --stack "$stack"
echo "destroyed and removed $stack"
