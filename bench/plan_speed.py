"""How long `make plan` takes per stack: cold process, real program, mocks and policy pack.

    python -m bench.plan_speed [--runs 3]

Prints the median wall time and peak memory of `python -m offline.plan --stack <stack>` for every
shipped stack, against the target of 5 s per stack.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time

from offline.runner import ROOT

TARGET_SECONDS = 5.0


def shipped_stacks() -> list[str]:
    return sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


def plan_once(stack: str) -> float:
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "offline.plan", "--stack", stack], cwd=ROOT, check=True, capture_output=True
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    worst = 0.0
    for stack in shipped_stacks():
        timings = [plan_once(stack) for _ in range(args.runs)]
        median = statistics.median(timings)
        worst = max(worst, median)
        print(f"plan {stack}: median {median:.2f} s over {args.runs} runs (min {min(timings):.2f} s)")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak memory of one plan process: {peak_mb:.0f} MB")
    verdict = "meets" if worst <= TARGET_SECONDS else "MISSES"
    print(f"slowest stack {worst:.2f} s {verdict} the {TARGET_SECONDS:.0f} s target")
    return 0 if worst <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
