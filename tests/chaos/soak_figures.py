"""The soak's figures from what it recorded: plain functions of samples and order times.

- memory: each part's resident memory (its process tree) at the sale's start and end, and its
  slope in MB per 10,000 orders, least squares over the samples against the orders acknowledged
  so far. A part the run killed starts a new life with new memory: each life (a pid) gets its
  own intercept and the lives share one slope; the samples of the sale's first tenth, and of
  the first `warm_up_s` of each life begun during the sale, are left out: caches fill and the
  allocator settles then.
- tenths: the sale's placing time cut in ten; of the orders created in each, the latency p50 /
  p99 from the order service's `createdAt` to its `updatedAt` (the outcome stored), as the
  bench takes it under load; the orders placed and the sagas ended in each, a second.
- flat: every part's slope within `mb_per_10k`, and the last tenth's p99 within `p99_ratio`
  of the second's (the first warms up).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from bench.floor import percentile

ORDERS_PER_SLOPE = 10_000


@dataclass(frozen=True)
class FlatBounds:
    """What the soak calls flat: stated in its report beside the judgment."""

    mb_per_10k: float = 2.0     # each part's memory slope (200 bytes an order at most)
    p99_ratio: float = 1.5      # the last tenth's latency p99 against the second tenth's


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


def tenths(times: dict[str, tuple[float, float]], began: float,
           ended: float) -> list[dict[str, Any]]:
    """The sale in ten equal spans of its placing time: orders by their `createdAt` (the last
    span keeps those placed again after it), sagas ended by their `updatedAt`."""
    span = (ended - began) / 10
    created: list[list[float]] = [[] for _ in range(10)]
    finished = [0] * 10
    for created_at, updated_at in times.values():
        created[_tenth(created_at, began, span)].append((updated_at - created_at) * 1000)
        if began <= updated_at < ended:
            finished[_tenth(updated_at, began, span)] += 1
    rows = []
    for number, latencies in enumerate(created):
        latencies.sort()
        rows.append({"tenth": number + 1, "from_s": round(number * span, 1),
                     "to_s": round((number + 1) * span, 1), "placed": len(latencies),
                     "placed_per_s": round(len(latencies) / span, 1) if span else None,
                     "ended_per_s": round(finished[number] / span, 1) if span else None,
                     "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
                     "p99_ms": round(percentile(latencies, 99), 1) if latencies else None})
    return rows


def _tenth(moment: float, began: float, span: float) -> int:
    return min(max(int((moment - began) // span), 0), 9) if span > 0 else 0


def flat(memory_figures: dict[str, dict[str, Any]], by_tenth: list[dict[str, Any]],
         bounds: FlatBounds) -> dict[str, Any]:
    """The judgment: memory flat (every fitted slope within bounds), latency flat (the last
    tenth's p99 within `p99_ratio` of the second's); what was compared, beside it."""
    slopes = {name: figures["slope_mb_per_10k_orders"]
              for name, figures in memory_figures.items()
              if figures["slope_mb_per_10k_orders"] is not None}
    steepest = max(slopes, key=lambda name: slopes[name]) if slopes else None
    second, last = by_tenth[1]["p99_ms"], by_tenth[-1]["p99_ms"]
    ratio = round(last / second, 2) if second and last is not None else None
    memory_flat = bool(slopes) and all(slope <= bounds.mb_per_10k for slope in slopes.values())
    latency_flat = ratio is not None and ratio <= bounds.p99_ratio
    return {"memory": memory_flat, "latency": latency_flat, "ok": memory_flat and latency_flat,
            "bounds": asdict(bounds),
            "steepest_part": steepest,
            "steepest_mb_per_10k_orders": slopes[steepest] if steepest else None,
            "parts_above_bound": sorted(name for name, slope in slopes.items()
                                        if slope > bounds.mb_per_10k),
            "p99_second_tenth_ms": second, "p99_last_tenth_ms": last,
            "p99_last_vs_second": ratio}
