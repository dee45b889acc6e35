#!/usr/bin/env bash
# Static security checks of `make lint`:
#  - bandit over handlers/ and policy/: any medium or high finding fails (exempt a line only with
#    `# nosec <test id>` plus the reason on that line);
#  - detect-secrets over every tracked or new (not ignored) file of the repository: any secret not
#    marked `# pragma: allowlist secret` and not in the reviewed baseline fails.
# Usage: scripts/lint-security.sh [python]   (default: .venv/bin/python)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
BASELINE=policy/secrets-baseline.json

echo "bandit: handlers/ policy/ (medium and high severity)"
"$PY" -m bandit --quiet --configfile pyproject.toml --recursive handlers policy \
  --severity-level medium --confidence-level low

echo "detect-secrets: repository (baseline $BASELINE)"
git ls-files -z --cached --others --exclude-standard \
  | grep -zvx "$BASELINE" \
  | xargs -0 "$PY" -m detect_secrets.pre_commit_hook --baseline "$BASELINE" \
  || {
    echo "detect-secrets found a possible secret. Move real secrets to Secrets Manager/SSM or" \
      "'pulumi config set --secret'; mark a reviewed false positive with '# pragma: allowlist secret'" \
      "on its line, or re-audit the baseline: .venv/bin/detect-secrets scan --baseline $BASELINE" >&2
    exit 1
  }
echo "security lint: clean"
