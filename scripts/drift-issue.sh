#!/usr/bin/env bash
# Report drift of one stack as a GitHub issue: open one, or comment on the open one of that stack.
#   scripts/drift-issue.sh <stack> <log file> <run url>
# Needs GH_TOKEN (issues: write) and runs `gh` against the workflow's repository.
set -euo pipefail

stack="${1:?usage: drift-issue.sh <stack> <log file> <run url>}"
log="${2:?missing log file}"
run_url="${3:?missing run url}"
[[ "$stack" =~ ^[a-z][a-z0-9-]{1,15}$ ]] || { echo "not a stack name: $stack" >&2; exit 2; }
repo="${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}"
title="Drift detected in the $stack stack"

body="$(mktemp)"
{
  echo "\`pulumi refresh\` then \`pulumi preview --expect-no-changes\` found changes (or failed) for \`$stack\`."
  echo
  echo "Run: $run_url"
  echo
  echo '<details><summary>Last 200 lines of the output</summary>'
  echo
  echo '```'
  tail -n 200 "$log"
  echo '```'
  echo '</details>'
} > "$body"

gh label create drift --repo "$repo" --color B60205 --description "Deployed stack differs from the program" --force >/dev/null
number="$(gh issue list --repo "$repo" --state open --label drift --limit 100 --json number,title \
  --jq ".[] | select(.title == \"$title\") | .number" | head -n 1)"
if [ -n "$number" ]; then
  gh issue comment "$number" --repo "$repo" --body-file "$body"
else
  gh issue create --repo "$repo" --title "$title" --label drift --body-file "$body"
fi
