"""How well do the test-split intervals and verdicts of opro_cli.core.significance work?

Prints Markdown tables; never fails. Run from the repository root:

    python bench/bench_significance.py --binary --sizes 20,30,50,100,200   # 0/1 coverage (~2 min)
    python bench/bench_significance.py --power                             # detectable gains
    python bench/bench_significance.py --graded --sizes 20,30,50,100       # graded (~20 min)

0/1 metrics: coverage is computed exactly, by summing the probability of every possible table
(wins, losses, ties) of n pairs; only the percentile bootstrap (what opro used before) is itself
random. It depends only on p(win) and p(loss), not on the accuracies themselves. Methods: the
percentile bootstrap, Wald, Newcombe's hybrid score interval (method 10) and Tango's score
interval. The false-significant rate at no true gain is also exact.

Graded metrics: seeded simulation (binomial error of a 95% coverage from S simulations is
sqrt(0.95 * 0.05 / S), 0.49 points at S = 2000). Methods: the percentile bootstrap, BCa,
Student's t, the equal-tailed bootstrap-t and the symmetric bootstrap-t of ``compare_paired``
(the column "bootstrap-t").
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from statistics import NormalDist

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opro_cli.core.significance import (  # noqa: E402
    compare_paired,
    mcnemar_midp,
    t_quantile,
    tango_interval,
)

NORMAL = NormalDist()
LEVEL = 0.95
Z = NORMAL.inv_cdf(1 - (1 - LEVEL) / 2)


# -- 0/1 metrics: exact enumeration ------------------------------------------------------------


def wilson(x: int, n: int) -> tuple[float, float]:
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def newcombe_table(both: int, wins: int, losses: int, neither: int) -> tuple[float, float]:
    n = both + wins + losses + neither
    p1 = (both + wins) / n  # winner accuracy
    p2 = (both + losses) / n  # seed accuracy
    l1, u1 = wilson(both + wins, n)
    l2, u2 = wilson(both + losses, n)
    margins = (both + wins) * (losses + neither) * (both + losses) * (wins + neither)
    phi = 0.0 if margins == 0 else (both * neither - wins * losses) / math.sqrt(margins)
    d = p1 - p2
    lo = d - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    hi = d + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return lo, hi


def wald(wins: int, losses: int, n: int) -> tuple[float, float]:
    d = (wins - losses) / n
    se = math.sqrt(max(0.0, (wins + losses) / n - d * d) / n)
    return d - Z * se, d + Z * se


def percentile_bootstrap(
    wins: int, losses: int, n: int, gen: np.random.Generator, samples: int = 1000
) -> tuple[float, float]:
    counts = gen.multinomial(n, [wins / n, losses / n, (n - wins - losses) / n], size=samples)
    means = np.sort((counts[:, 0] - counts[:, 1]) / n)
    tail = (1 - LEVEL) / 2
    return float(means[int(tail * (samples - 1))]), float(
        means[int(round((1 - tail) * (samples - 1)))]
    )


def trinomial(n: int, p_win: float, p_loss: float) -> np.ndarray:
    """P(wins = i, losses = j) for i + j <= n, as an (n+1, n+1) array (0 where i + j > n)."""
    log_fact = np.concatenate(([0.0], np.cumsum(np.log(np.arange(1, n + 1)))))
    i = np.arange(n + 1)[:, None]
    j = np.arange(n + 1)[None, :]
    ok = i + j <= n
    k = np.where(ok, n - i - j, 0)
    p_tie = 1 - p_win - p_loss
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = (
            log_fact[n]
            - log_fact[i]
            - log_fact[j]
            - log_fact[k]
            + np.where(i > 0, i * np.log(p_win), 0.0)
            + np.where(j > 0, j * np.log(p_loss), 0.0)
            + np.where(k > 0, k * np.log(p_tie), 0.0)
        )
    return np.where(ok, np.exp(logp), 0.0)


def binary_tables(sizes: list[int], loss_rates: list[float], gains: list[float]) -> None:
    gen = np.random.default_rng(2024)
    # Newcombe's interval depends on how the ties split into both-right and both-wrong; we
    # use a seed accuracy of 0.65 (both-right = 0.65 - p(loss)), the others are exchangeable.
    seed_accuracy = 0.65
    methods = ["percentile", "wald", "newcombe", "tango"]
    print("\n### 0/1 metrics: exact coverage of the 95% interval (%)\n")
    print("| n | p(loss) | gain | " + " | ".join(methods) + " |")
    print("|---|---:|---:|" + "---:|" * len(methods))
    false_rows = []
    for n in sizes:
        started = time.time()
        cells = [(w, lo) for w in range(n + 1) for lo in range(n + 1 - w)]
        intervals: dict[str, dict[tuple[int, int], tuple[float, float]]] = {m: {} for m in methods}
        for w, lo in cells:
            intervals["tango"][w, lo] = tango_interval(w, lo, n, level=LEVEL)
            intervals["wald"][w, lo] = wald(w, lo, n)
            intervals["percentile"][w, lo] = percentile_bootstrap(w, lo, n, gen)
        for loss in loss_rates:
            for gain in gains:
                probs = trinomial(n, loss + gain, loss)
                row = []
                for m in methods:
                    cover = 0.0
                    for w, lo in cells:
                        pr = probs[w, lo]
                        if pr < 1e-13:
                            continue
                        if m == "newcombe":
                            # the interval also depends on how ties split into both right /
                            # both wrong: sum over that split too (exact 4-cell enumeration)
                            ties = n - w - lo
                            q = (seed_accuracy - loss) / (1 - 2 * loss - gain)
                            for both in range(ties + 1):
                                pb = math.comb(ties, both) * q**both * (1 - q) ** (ties - both)
                                if pb < 1e-12:
                                    continue
                                low, high = newcombe_table(both, w, lo, ties - both)
                                if low - 1e-9 <= gain <= high + 1e-9:
                                    cover += pr * pb
                            continue
                        low, high = intervals[m][w, lo]
                        if low - 1e-9 <= gain <= high + 1e-9:
                            cover += pr
                    row.append(f"{cover * 100:.1f}")
                print(f"| {n} | {loss:.3f} | {gain:.2f} | " + " | ".join(row) + " |")
                if gain == 0:
                    sig_midp = sum(
                        probs[w, lo]
                        for w, lo in cells
                        if w > lo and mcnemar_midp(w, lo) < 1 - LEVEL
                    )
                    sig_tango = sum(
                        probs[w, lo] for w, lo in cells if intervals["tango"][w, lo][0] > 0
                    )
                    sig_pct = sum(
                        probs[w, lo] for w, lo in cells if intervals["percentile"][w, lo][0] > 0
                    )
                    differ = sum(
                        probs[w, lo]
                        for w, lo in cells
                        if (w > lo and mcnemar_midp(w, lo) < 1 - LEVEL)
                        != (intervals["tango"][w, lo][0] > 0)
                    )
                    false_rows.append((n, loss, sig_midp, sig_tango, sig_pct, differ))
        print(f"<!-- n={n}: {time.time() - started:.1f} s -->")
    print("\n### 0/1 metrics: exact false 'significant improvement' rate at no true gain (%)\n")
    print(
        "| n | p(loss) = p(win) | mid-p McNemar (the verdict) | Tango low > 0 | percentile low > 0 "
        "| P(verdict != Tango) |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for n, loss, a, b, c, d in false_rows:
        print(
            f"| {n} | {loss:.3f} | {a * 100:.2f} | {b * 100:.2f} | {c * 100:.2f} | {d * 100:.3f} |"
        )


def disagreement_cells(max_d: int) -> None:
    """Tables where the mid-p verdict and the Tango interval disagree (for any n): at 0,
    Tango's statistic is (wins - losses) / sqrt(wins + losses), so for each number of
    discordant pairs d it is enough to check the exact mid-p on both sides of Tango's
    smallest significant win count."""
    alpha = 1 - LEVEL
    only_midp = []
    only_tango = []
    for d in range(1, max_d + 1):
        w = math.floor((Z * math.sqrt(d) + d) / 2) + 1  # fewest wins with Tango's low > 0
        if w <= d and mcnemar_midp(w, d - w) >= alpha:
            only_tango.append((w, d - w))
        if w - 1 > d / 2 and mcnemar_midp(w - 1, d - w + 1) < alpha:
            only_midp.append((w - 1, d - w + 1))
    print(f"\n### Verdict vs interval: every table with up to {max_d} discordant pairs\n")
    print(
        f"- mid-p significant, Tango interval contains 0: {len(only_midp)} tables {only_midp[:12]}"
    )
    print(
        f"- Tango excludes 0, mid-p not significant: {len(only_tango)} tables (wins, losses) "
        f"{only_tango}"
    )


# -- graded metrics: simulation ----------------------------------------------------------------


def clipped_mean(mu: float, sd: float) -> float:
    """E[clip(Y, 0, 1)] for Y ~ N(mu, sd^2) = integral over t in [0, 1] of P(Y > t)."""
    t = (np.arange(4000) + 0.5) / 4000
    return float(np.mean([1 - NORMAL.cdf((x - mu) / sd) for x in t]))


def rounded_mean(mu: float, sd: float, step: float = 0.25) -> float:
    """E[round(clip(Y, 0, 1) / step) * step]."""
    levels = np.arange(0, 1 + step / 2, step)
    total = 0.0
    for k, v in enumerate(levels):
        lo = -math.inf if k == 0 else v - step / 2
        hi = math.inf if k == len(levels) - 1 else v + step / 2
        total += v * (NORMAL.cdf((hi - mu) / sd) - NORMAL.cdf((lo - mu) / sd))
    return total


def solve(f: Callable[[float], float], target: float) -> float:
    lo, hi = -5.0, 5.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if f(mid) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


Sampler = Callable[[np.random.Generator, int, int], tuple[np.ndarray, np.ndarray]]


def latent_model(kind: str, gain: float, share_same: float = 0.0) -> Sampler:
    """Seed score mean ~0.65; scores share a per-example latent difficulty (sd 0.5) plus
    independent noise (sd 0.25), so winner and seed correlate ~0.8 on the latent scale."""
    su, se = 0.5, 0.25
    total = math.hypot(su, se)
    mean_of: Callable[[float], float]
    if kind == "f1":
        mean_of = lambda mu: clipped_mean(mu, total)  # noqa: E731
        transform: Callable[[np.ndarray], np.ndarray] = lambda y: np.clip(y, 0, 1)  # noqa: E731
    elif kind == "partial":
        mean_of = lambda mu: rounded_mean(mu, total)  # noqa: E731
        transform = lambda y: np.round(np.clip(y, 0, 1) * 4) / 4  # noqa: E731
    elif kind == "similarity":
        mean_of = lambda mu: NORMAL.cdf(mu / math.sqrt(1 + total**2))  # noqa: E731
        transform = _phi
    else:
        raise ValueError(kind)
    mu_b = solve(mean_of, 0.65)
    inner_gain = gain / (1 - share_same)
    if mean_of(mu_b) + inner_gain > mean_of(5.0) - 1e-3:
        raise ValueError("no such model: the answers that differ cannot carry this gain")
    mu_a = solve(mean_of, mean_of(mu_b) + inner_gain) if gain else mu_b

    def sample(gen: np.random.Generator, sims: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        u = gen.normal(0, su, size=(sims, n))
        b = transform(mu_b + u + gen.normal(0, se, size=(sims, n)))
        a = transform(mu_a + u + gen.normal(0, se, size=(sims, n)))
        if share_same:
            same = gen.random((sims, n)) < share_same
            common = transform(mu_b + u + gen.normal(0, se, size=(sims, n)))
            a = np.where(same, common, a)
            b = np.where(same, common, b)
        return a, b

    return sample


def kinds_model(gain: float) -> Sampler:
    """The suite's F1-like data (tests/test_stats.py): hard/medium/easy examples shared by
    both prompts; a score is 1, 0 or Beta(2, 2) partial credit; the winner moves ``gain``
    from 0 to 1 in every kind (exact true gain)."""

    def sample(gen: np.random.Generator, sims: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        kinds = gen.choice(3, p=[0.3, 0.4, 0.3], size=(sims, n))
        p_one = np.array([0.1, 0.5, 0.8])[kinds]
        p_zero = np.array([0.6, 0.2, 0.1])[kinds]

        def draw(p1: np.ndarray, p0: np.ndarray) -> np.ndarray:
            u = gen.random((sims, n))
            partial = gen.beta(2, 2, size=(sims, n))
            return np.where(u < p1, 1.0, np.where(u < p1 + p0, 0.0, partial))

        return draw(p_one + gain, p_zero - gain), draw(p_one, p_zero)

    return sample


def _phi(y: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.vectorize(math.erf)(y / math.sqrt(2)))


def graded_intervals(
    d: np.ndarray, gen: np.random.Generator, samples: int
) -> dict[str, tuple[float, float]]:
    n = len(d)
    m = d.mean()
    sd = d.std(ddof=1)
    se = sd / math.sqrt(n)
    idx = gen.integers(0, n, size=(samples, n))
    means = np.sort(d[idx].mean(axis=1))
    alpha = 1 - LEVEL
    lo_q, hi_q = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    out = {"percentile": (float(lo_q), float(hi_q))}
    # BCa
    frac = (np.sum(means < m) + 0.5 * np.sum(means == m)) / samples
    frac = min(max(frac, 1 / (2 * samples)), 1 - 1 / (2 * samples))
    z0 = NORMAL.inv_cdf(frac)
    jack = (n * m - d) / (n - 1)
    dev = jack.mean() - jack
    denom = 6 * (np.sum(dev**2)) ** 1.5
    acc = float(np.sum(dev**3) / denom) if denom > 0 else 0.0
    qs = []
    for zq in (-Z, Z):
        adj = NORMAL.cdf(z0 + (z0 + zq) / (1 - acc * (z0 + zq)))
        qs.append(float(np.quantile(means, adj)))
    out["bca"] = (qs[0], qs[1])
    t = t_quantile(1 - alpha / 2, n - 1)
    out["student-t"] = (m - t * se, m + t * se)
    # equal-tailed bootstrap-t from the same resamples
    x = d[idx]
    se_star = x.std(axis=1, ddof=1) / math.sqrt(n)
    num = x.mean(axis=1) - m
    with np.errstate(divide="ignore", invalid="ignore"):
        t_star = np.where(
            se_star > 0, num / se_star, np.where(num == 0, 0.0, np.sign(num) * np.inf)
        )
    t_star = np.sort(t_star)
    tail = math.ceil(samples * alpha / 2 - 1e-9)
    out["bootstrap-t (equal tails)"] = (
        max(-1.0, m - se * t_star[samples - tail]),
        min(1.0, m - se * t_star[tail - 1]),
    )
    return out


def graded_tables(sizes: list[int], gains: list[float], sims: int, samples: int) -> None:
    models: list[tuple[str, str, float]] = [
        ("F1-like, 3 difficulty kinds (the suite's)", "kinds", 0.0),
        ("F1-like (clipped, masses at 0 and 1)", "f1", 0.0),
        ("partial credit (0, .25, .5, .75, 1)", "partial", 0.0),
        ("similarity (continuous)", "similarity", 0.0),
        ("F1-like, 60% identical answers", "f1", 0.6),
        ("F1-like, 85% identical answers", "f1", 0.85),
    ]
    methods = ["percentile", "bca", "student-t", "bootstrap-t (equal tails)", "bootstrap-t"]
    print(
        f"\n### Graded metrics: coverage of the 95% interval (%), {sims} simulations, "
        f"{samples} resamples (binomial error ±{100 * math.sqrt(0.95 * 0.05 / sims):.2f})\n"
    )
    print("| data | n | gain | " + " | ".join(methods) + " | false significant (compare_paired) |")
    print("|---|---|---:|" + "---:|" * (len(methods) + 1))
    for label, kind, same in models:
        for gain in gains:
            try:
                sampler = kinds_model(gain) if kind == "kinds" else latent_model(kind, gain, same)
            except ValueError:
                print(f"| {label} | any | {gain:.2f} | (impossible) |")
                continue
            for n in sizes:
                gen = np.random.default_rng([n, int(gain * 1000), len(label)])
                rng = random.Random(n * 7 + int(gain * 1000))
                a, b = sampler(gen, sims, n)
                hits = dict.fromkeys(methods, 0)
                false_sig = 0
                for k in range(sims):
                    d = a[k] - b[k]
                    if np.all(d == d[0]):
                        ivs = {m: (float(d[0]), float(d[0])) for m in methods[:4]}
                    else:
                        ivs = graded_intervals(d, gen, samples)
                    cmp = compare_paired(a[k].tolist(), b[k].tolist(), rng=rng, samples=samples)
                    ivs["bootstrap-t"] = (
                        cmp.low if cmp.low is not None else -1.0,
                        cmp.high if cmp.high is not None else 1.0,
                    )
                    for m in methods:
                        lo, hi = ivs[m]
                        hits[m] += lo - 1e-12 <= gain <= hi + 1e-12
                    false_sig += cmp.significant
                cells = " | ".join(f"{hits[m] / sims * 100:.1f}" for m in methods)
                fs = f"{false_sig / sims * 100:.2f}" if gain == 0 else ""
                print(f"| {label} | {n} | {gain:.2f} | {cells} | {fs} |", flush=True)


def detectable_table() -> None:
    from opro_cli.core.significance import detectable_gain

    rates = [0.0, 0.025, 0.05, 0.1, 0.15]
    print("\n### Smallest gain detectable at 80% power, 0/1 metrics (points)\n")
    print("| n | " + " | ".join(f"p(loss) {r}" for r in rates) + " |")
    print("|---|" + "---:|" * len(rates))
    for n in (20, 30, 50, 100, 200, 500, 1000, 3000):
        vals = [detectable_gain(n, loss_rate=r) for r in rates]
        print(f"| {n} | " + " | ".join("-" if v is None else f"{v * 100:.1f}" for v in vals) + " |")


def power_check(sims: int) -> None:
    """Simulated power of compare_paired's verdict at the gain detectable_gain reports."""
    from opro_cli.core.significance import detectable_gain

    print(f"\n### Simulated power at the reported detectable gain ({sims} simulations)\n")
    print("| n | p(loss) | detectable gain | simulated power |")
    print("|---|---:|---:|---:|")
    gen = np.random.default_rng(7)
    for n in (30, 100, 300):
        for loss in (0.0, 0.05, 0.1):
            g = detectable_gain(n, loss_rate=loss)
            if g is None:
                continue
            counts = gen.multinomial(n, [loss + g, loss, 1 - 2 * loss - g], size=sims)
            sig = sum(
                1 for w, lo, _ in counts if w > lo and mcnemar_midp(int(w), int(lo)) < 1 - LEVEL
            )
            print(f"| {n} | {loss} | {g * 100:.1f} | {sig / sims * 100:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", action="store_true")
    parser.add_argument("--graded", action="store_true")
    parser.add_argument("--power", action="store_true")
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--sizes", default="20,30,50,100")
    args = parser.parse_args()
    everything = not (args.binary or args.graded or args.power)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.binary or everything:
        binary_tables(sizes, [0.025, 0.05, 0.1, 0.15], [0.0, 0.05, 0.1, 0.2])
        disagreement_cells(3000)
    if args.power or everything:
        detectable_table()
        power_check(20000)
    if args.graded or everything:
        graded_tables(sizes, [0.0, 0.1], args.sims, args.samples)


if __name__ == "__main__":
    main()
