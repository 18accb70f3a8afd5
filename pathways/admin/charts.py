"""Charts drawn on the server as SVG geometry (no script, no inline style: the CSP allows neither).

``line_chart`` turns labelled series into coordinates, ticks and labels; the template
``pathways_admin/_line_chart.html`` draws them, with a title, a description and the numbers as a table
for people who cannot see the chart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    name: str
    css_class: str
    values: tuple[int, ...]
    points: tuple[tuple[float, float], ...]

    @property
    def path(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)


@dataclass(frozen=True)
class LineChart:
    title: str
    description: str
    width: int
    height: int
    left: int
    top: int
    plot_width: int
    plot_height: int
    x_labels: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, int], ...]
    series: tuple[Series, ...]
    labels: tuple[str, ...]


def _nice_max(value: int) -> int:
    if value <= 5:
        return 5
    magnitude = 10 ** int(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def line_chart(title: str, labels: list[str], series: list[tuple[str, str, list[int]]], *,
               width: int = 640, height: int = 260) -> LineChart:
    """Geometry of a line chart of ``series`` (name, css class, values) over ``labels``."""
    left, right, top, bottom = 44, 16, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max([max(values, default=0) for _, _, values in series] or [0]))
    step = plot_w / max(len(labels) - 1, 1)

    def y(value: int) -> float:
        return top + plot_h - value / top_value * plot_h

    drawn = tuple(Series(name, css, tuple(values),
                         tuple((left + i * step, y(v)) for i, v in enumerate(values)))
                  for name, css, values in series)
    every = max(1, math.ceil(len(labels) / 8))
    x_labels = tuple((left + i * step, label) for i, label in enumerate(labels) if i % every == 0)
    ticks = tuple((y(v), v) for v in range(0, top_value + 1, max(1, top_value // 5)))
    totals = ", ".join(f"{name}: {sum(values)} in total, {max(values, default=0)} at most in one period"
                       for name, _, values in series)
    description = f"{title} over {len(labels)} periods from {labels[0] if labels else '-'} " \
                  f"to {labels[-1] if labels else '-'}. {totals}."
    return LineChart(title, description, width, height, left, top, plot_w, plot_h, x_labels, ticks, drawn,
                     tuple(labels))
