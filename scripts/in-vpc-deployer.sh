#!/usr/bin/env bash
# Run `pulumi up` (or `pulumi preview`) of a stack whose Kubernetes API is private: start the stack's
# in-VPC CodeBuild deployer (components/eks_gitops/deployer.py) at one git revision and wait, bounded,
# for its result. GitHub's runners cannot reach a private endpoint; the build runs inside the VPC.
#   scripts/in-vpc-deployer.sh <stack> <up|preview> <git revision>
# Env: PULUMI_PROJECT (platform), POLL_SECONDS (30), MAX_WAIT_SECONDS (6000: the build's own timeout is
# 90 minutes by default). Needs AWS credentials allowed codebuild:StartBuild and codebuild:BatchGetBuilds.
set -euo pipefail

stack="${1:?usage: in-vpc-deployer.sh <stack> <up|preview> <git revision>}"
operation="${2:?missing operation: up or preview}"
revision="${3:?missing git revision}"
[[ "$stack" =~ ^[a-z][a-z0-9-]{1,15}$ ]] || { echo "not a stack name: $stack" >&2; exit 2; }
[[ "$operation" =~ ^(up|preview)$ ]] || { echo "operation must be up or preview, not $operation" >&2; exit 2; }
[[ "$revision" =~ ^[0-9a-f]{40}$ ]] || { echo "not a full commit SHA: $revision" >&2; exit 2; }
poll="${POLL_SECONDS:-30}"
max_wait="${MAX_WAIT_SECONDS:-6000}"
[[ "$poll" =~ ^[0-9]+$ && "$max_wait" =~ ^[0-9]+$ ]] || { echo "POLL_SECONDS and MAX_WAIT_SECONDS are seconds" >&2; exit 2; }
project="${PULUMI_PROJECT:-platform}-$stack-eks-deployer"

overrides=("name=GIT_REVISION,value=$revision,type=PLAINTEXT")
[ "$operation" = preview ] && overrides+=("name=PULUMI_OPERATION,value=preview,type=PLAINTEXT")
build="$(aws codebuild start-build --project-name "$project" \
  --environment-variables-override "${overrides[@]}" --query build.id --output text)"
echo "started $build: pulumi $operation of $stack at $revision"

deadline=$(( $(date +%s) + max_wait ))
while :; do
  status="$(aws codebuild batch-get-builds --ids "$build" --query 'builds[0].buildStatus' --output text)"
  case "$status" in
    SUCCEEDED)
      echo "$build succeeded"
      exit 0 ;;
    IN_PROGRESS) ;;
    *)
      echo "$build ended $status; its log: CloudWatch log group /aws/codebuild/$project" >&2
      exit 1 ;;
  esac
  if (( $(date +%s) >= deadline )); then
    echo "$build still $status after ${max_wait}s: not waiting longer (it stops at its own timeout)" >&2
    exit 1
  fi
  sleep "$poll"
done
