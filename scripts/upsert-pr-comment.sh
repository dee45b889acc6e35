#!/usr/bin/env bash
# Create or update the PR comment that starts with `<!-- <key> -->`:
#   scripts/upsert-pr-comment.sh <pr number> <key> <body file>
# Needs GH_TOKEN (pull-requests: write) and runs `gh` against the workflow's repository.
set -euo pipefail

pr="${1:?usage: upsert-pr-comment.sh <pr number> <key> <body file>}"
key="${2:?missing key}"
body="${3:?missing body file}"
[[ "$pr" =~ ^[1-9][0-9]*$ ]] || { echo "not a pull request number: $pr" >&2; exit 2; }
repo="${GITHUB_REPOSITORY:?GITHUB_REPOSITORY is not set}"
marker="<!-- $key -->"

existing="$(gh api --paginate "repos/$repo/issues/$pr/comments" --jq '.[] | [.id, .body] | @tsv' \
  | awk -F '\t' -v marker="$marker" 'index($2, marker) == 1 { print $1; exit }')"
if [ -n "$existing" ]; then
  gh api --method PATCH "repos/$repo/issues/comments/$existing" -F "body=@$body" >/dev/null
  echo "updated comment $existing on #$pr"
else
  gh pr comment "$pr" --repo "$repo" --body-file "$body"
fi
