"""What racing saves on a typical OPRO step, by seeded simulation (no model, a few seconds).

A step proposes candidates against a best instruction scored on the whole train split. Here the
best is right on 70% of the examples in expectation; of every 8 proposals, 6 are worse by 5 to
30 points, one is as good and one 5 points better (in expectation: each split is drawn, so a
candidate can end up above or below the best on the split itself). Right answers of the two
instructions share a per-example difficulty (a Gaussian copula with correlation ``rho``), as two
wordings of one prompt on one model do. Each candidate is raced with ``RacePlan`` in a fresh
random order; the table gives the scorer calls racing uses as a share of scoring every
proposal on the whole split, and how often a candidate at least as good as the best on the
split was dropped (the error the plan bounds by ``delta``).

    python bench/racing_savings.py                 # sizes 24 to 2000, rho 0.3 / 0.6 / 0.9
    python bench/racing_savings.py --steps 400 --delta 0.1
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opro_cli.core.racing import RacePlan  # noqa: E402

GAPS = (-0.30, -0.25, -0.20, -0.15, -0.10, -0.05, 0.0, 0.05)  # one step's 8 proposals


def split(
    rng: random.Random, n: int, p_best: float, p_candidate: float, rho: float
) -> tuple[list[float], list[float]]:
    normal = statistics.NormalDist()
    q_best, q_candidate = normal.inv_cdf(p_best), normal.inv_cdf(p_candidate)
    best, candidate = [], []
    for _ in range(n):
        shared = rng.gauss(0, 1) * math.sqrt(rho)
        best.append(float(shared + rng.gauss(0, 1) * math.sqrt(1 - rho) < q_best))
        candidate.append(float(shared + rng.gauss(0, 1) * math.sqrt(1 - rho) < q_candidate))
    return candidate, best


def race(plan: RacePlan, candidate: list[float], best: list[float]) -> tuple[int, bool]:
    for look in plan.looks():
        decision = plan.decide(candidate[:look], best)
        if decision.drop or look == plan.n_train:
            return decision.n, decision.drop
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="24,50,100,200,500,1000,2000")
    parser.add_argument("--rhos", default="0.3,0.6,0.9")
    parser.add_argument("--steps", type=int, default=0, help="steps per cell (0: by size)")
    parser.add_argument("--delta", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rhos = [float(r) for r in args.rhos.split(",")]
    print(f"delta {args.delta}; proposals per step: gaps {[round(100 * g) for g in GAPS]} points")
    print("| train examples | rho | calls vs full | per gap (-30 ... +5) | not-worse dropped |")
    print("|---:|---:|---:|---|---:|")
    for n in sizes:
        for rho in rhos:
            plan = RacePlan(n, delta=args.delta)
            rng = random.Random(f"{args.seed}:{n}:{rho}")
            steps = args.steps or max(10, 24_000 // n)
            used = {gap: 0 for gap in GAPS}
            kept_back = not_worse = 0
            for _ in range(steps):
                for gap in GAPS:
                    candidate, best = split(rng, n, 0.7, 0.7 + gap, rho)
                    calls, dropped = race(plan, candidate, best)
                    used[gap] += calls
                    if sum(candidate) >= sum(best):
                        not_worse += 1
                        kept_back += dropped
            share = sum(used.values()) / (steps * len(GAPS) * n)
            per_gap = " ".join(f"{used[g] / (steps * n):.2f}" for g in GAPS)
            rate = f"{kept_back}/{not_worse}"
            print(f"| {n} | {rho} | {share:.0%} | {per_gap} | {rate} |", flush=True)


if __name__ == "__main__":
    main()
