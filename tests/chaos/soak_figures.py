"""The soak's figures from what it recorded: plain functions of samples and order times.

- memory: each part's resident memory (its process tree) at the sale's start and end, and its
  slope in MB per 10,000 orders, least squares over the samples against the orders acknowledged
  so far. A part the run killed starts a new life with new memory: each life (a pid) gets its
  own intercept and the lives share one slope; the samples of the sale's first tenth, and of
  the first `warm_up_s` of each life begun during the sale, are left out: caches fill and the
  allocator settles then.
- tenths: the sale's placing time cut in ten; of the orders created in each, the latency p50 /
  p99 from the order service's `createdAt` to its `updatedAt` (the outcome stored), as the
  bench takes it under load, and the p99 of those placed away from the faults (not from
  FAULT_SHADOW_S before a kill until after it: what a fault's recovery costs is the chaos
  run's to measure, a slower store or a fuller process the soak's); the orders placed and the
  sagas ended in each, a second, and the backlog at its end (placed, not yet ended).
- flat: every judged part's slope within `mb_per_10k`, and the last tenth's p99 within
  `p99_ratio` of the second's (the first warms up): the p99 away from the faults where both
  tenths have one, else every order's.
- table: the report's headline, its tenths and its parts, as Markdown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.floor import percentile

ORDERS_PER_SLOPE = 10_000
# An order placed from 10 s before a kill (its saga in flight) until 30 s after it (the part
# down 1-3 s, started again, and the reconciler's and the payment deadline's repairs) is in
# the fault's shadow.
FAULT_SHADOW_S = (10.0, 30.0)


@dataclass(frozen=True)
class FlatBounds:
    """What the soak calls flat: stated in its report beside the judgment."""

    mb_per_10k: float = 2.0     # each part's memory slope (200 bytes an order at most)
    p99_ratio: float = 1.5      # the last tenth's latency p99 against the second tenth's
    # The embedded Tansu keeps every message in memory (that build has no other storage): it
    # grows with the sale by design, where Apache Kafka keeps its log on disk. Reported only.
    unjudged: tuple[str, ...] = ("kafka",)


def slope_within_lives(points: list[tuple[Any, float, float]]) -> float | None:
    """The least-squares slope of y on x over (life, x, y) points, each life with an intercept
    of its own; None with no life of three points or more, or no spread in x."""
    lives: dict[Any, list[tuple[float, float]]] = defaultdict(list)
    for life, x, y in points:
        lives[life].append((x, y))
    covariance = variance = 0.0
    for life_points in lives.values():
        if len(life_points) < 3:
            continue
        mean_x = sum(x for x, _ in life_points) / len(life_points)
        mean_y = sum(y for _, y in life_points) / len(life_points)
        covariance += sum((x - mean_x) * (y - mean_y) for x, y in life_points)
        variance += sum((x - mean_x) ** 2 for x, _ in life_points)
    return covariance / variance if variance else None


def memory(samples: list[dict[str, Any]], fit_from: float,
           warm_up_s: float = 30.0) -> dict[str, dict[str, Any]]:
    """Each part's memory figures from samples {"t", "orders", "parts": {name: [pid, MB]}}."""
    figures: dict[str, dict[str, Any]] = {}
    names = sorted({name for sample in samples for name in sample["parts"]})
    for name in names:
        seen = [(s["t"], s["orders"], *s["parts"][name]) for s in samples if name in s["parts"]]
        born = {seen[0][2]: float("-inf")}   # the life running when sampling began: warm
        for t, _, pid, _ in seen:
            born.setdefault(pid, t)
        fitted = [(pid, orders, mb) for t, orders, pid, mb in seen
                  if t >= fit_from and t - born[pid] >= warm_up_s]
        slope = slope_within_lives(fitted)
        figures[name] = {
            "start_mb": seen[0][3], "end_mb": seen[-1][3],
            "peak_mb": max(mb for *_, mb in seen), "lives": len(born),
            "samples_fitted": len(fitted),
            "slope_mb_per_10k_orders": None if slope is None
            else round(slope * ORDERS_PER_SLOPE, 2)}
    return figures


def tenths(times: dict[str, tuple[float, float]], began: float, ended: float,
           faults: Sequence[float] = ()) -> list[dict[str, Any]]:
    """The sale in ten equal spans of its placing time: orders by their `createdAt` (the last
    span keeps those placed again after it), sagas ended by their `updatedAt`; `faults`, the
    moments of the kills (epoch s, as the times)."""
    span = (ended - began) / 10
    created: list[list[float]] = [[] for _ in range(10)]
    calm: list[list[float]] = [[] for _ in range(10)]
    finished = [0] * 10
    before, after = FAULT_SHADOW_S
    for created_at, updated_at in times.values():
        tenth, latency = _tenth(created_at, began, span), (updated_at - created_at) * 1000
        created[tenth].append(latency)
        if not any(fault - before <= created_at < fault + after for fault in faults):
            calm[tenth].append(latency)
        if began <= updated_at < ended:
            finished[_tenth(updated_at, began, span)] += 1
    rows = []
    for number, latencies in enumerate(created):
        latencies.sort()
        calm[number].sort()
        end = began + (number + 1) * span
        backlog = sum(1 for created_at, updated_at in times.values()
                      if created_at < end <= updated_at)
        rows.append({"tenth": number + 1, "from_s": round(number * span, 1),
                     "to_s": round((number + 1) * span, 1), "placed": len(latencies),
                     "placed_per_s": round(len(latencies) / span, 1) if span else None,
                     "ended_per_s": round(finished[number] / span, 1) if span else None,
                     "backlog_at_end": backlog,
                     "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
                     "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
                     "placed_away_from_faults": len(calm[number]),
                     "p99_away_from_faults_ms": round(percentile(calm[number], 99), 1)
                     if calm[number] else None})
    return rows


def _tenth(moment: float, began: float, span: float) -> int:
    return min(max(int((moment - began) // span), 0), 9) if span > 0 else 0


def flat(memory_figures: dict[str, dict[str, Any]], by_tenth: list[dict[str, Any]],
         bounds: FlatBounds) -> dict[str, Any]:
    """The judgment: memory flat (every judged part's fitted slope within bounds), latency
    flat (the last tenth's p99 within `p99_ratio` of the second's, away from the faults where
    both tenths have such orders); what was compared, beside it."""
    slopes = {name: figures["slope_mb_per_10k_orders"]
              for name, figures in memory_figures.items()
              if figures["slope_mb_per_10k_orders"] is not None and name not in bounds.unjudged}
    steepest = max(slopes, key=lambda name: slopes[name]) if slopes else None
    ratios = {key: _ratio(by_tenth[-1].get(key), by_tenth[1].get(key))
              for key in ("p99_ms", "p99_away_from_faults_ms")}
    judged_on = "p99_away_from_faults_ms" if ratios["p99_away_from_faults_ms"] else "p99_ms"
    memory_flat = bool(slopes) and all(slope <= bounds.mb_per_10k for slope in slopes.values())
    judged_ratio = ratios[judged_on]
    latency_flat = judged_ratio is not None and judged_ratio <= bounds.p99_ratio
    return {"memory": memory_flat, "latency": latency_flat, "ok": memory_flat and latency_flat,
            "bounds": asdict(bounds),
            "steepest_part": steepest,
            "steepest_mb_per_10k_orders": slopes[steepest] if steepest else None,
            "parts_above_bound": sorted(name for name, slope in slopes.items()
                                        if slope > bounds.mb_per_10k),
            "latency_judged_on": judged_on,
            "p99_last_vs_second": ratios["p99_ms"],
            "p99_away_from_faults_last_vs_second": ratios["p99_away_from_faults_ms"]}


def _ratio(last: float | None, second: float | None) -> float | None:
    return round(last / second, 2) if second and last is not None else None


def table(report: dict[str, Any]) -> str:
    """The report's figures as Markdown: the headline, then a row a tenth and a row a part."""
    capacity, flat, verdict = report["capacity"], report["flat"], report["verdict"]
    store = report["saga_store"]["at_end"]
    headline = [
        ("orders of the sale; placed at / target rate",
         f"{report['settings']['orders']:,}; {report['placed_per_s']} / {report['rate_per_s']}/s"),
        ("capacity (burst of the sale's orders)",
         f"{capacity['sagas_per_s']} sagas/s ({capacity['orders']} orders, "
         f"{capacity['clients']} clients)"),
        ("faults", ", ".join(f"{f['victim']} at {f['at_s']} s" for f in report["faults"])),
        ("the machine's load average (1 min): at the start, the most, at the end",
         ", ".join(str(value) for value in report["load_average"].values())),
        ("verdict", "clean" if report["ok"] else f"{report['problem_count']} problems"),
        ("outcomes; parked", f"{verdict['outcomes']}; {verdict['parked_sagas']}"),
        ("saga store at the end: rows; bytes",
         f"{store['rows']}; {store['bytes']:,}" if store["bytes"] else f"{store['rows']}"),
        ("flat: memory / latency", f"{flat['memory']} (steepest {flat['steepest_part']} "
         f"{flat['steepest_mb_per_10k_orders']} MB per 10k orders, bound "
         f"{flat['bounds']['mb_per_10k']}; {', '.join(flat['bounds']['unjudged'])} not "
         f"judged) / {flat['latency']} (p99 last / second tenth: away from the faults "
         f"{flat['p99_away_from_faults_last_vs_second']}, every order "
         f"{flat['p99_last_vs_second']}; bound {flat['bounds']['p99_ratio']})"),
    ]
    lines = ["| measure | value |", "|---|---|",
             *(f"| {name} | {value} |" for name, value in headline),
             "", "| tenth | placed/s | ended/s | backlog at its end | p50 ms | p99 ms | "
             "p99 ms away from faults |", "|---|---|---|---|---|---|---|",
             *(f"| {t['tenth']} ({t['from_s']}–{t['to_s']} s) | {t['placed_per_s']} | "
               f"{t['ended_per_s']} | {t['backlog_at_end']} | {t['p50_ms']} | {t['p99_ms']} | "
               f"{t['p99_away_from_faults_ms']} ({t['placed_away_from_faults']} orders) |"
               for t in report["tenths"]),
             "", "| part | start MB | end MB | peak MB | lives | MB per 10k orders |",
             "|---|---|---|---|---|---|",
             *(f"| {name} | {m['start_mb']} | {m['end_mb']} | {m['peak_mb']} | {m['lives']} | "
               f"{m['slope_mb_per_10k_orders']} |" for name, m in report["memory"].items())]
    return "\n".join(lines)
