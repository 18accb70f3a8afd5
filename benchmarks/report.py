"""Print the table of a results JSON file (e.g. for the README's Performance section).

    python -m benchmarks.report benchmarks/results/full-20260101T120000.json
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmarks.runner import FULL, Metric, Run


def table_of(path: Path) -> str:
    from benchmarks.runner import table
    report = json.loads(path.read_text())
    runs = []
    for kind, metrics in report["results"].items():
        run = Run(kind, FULL, report["workers"], path.parent, "")
        run.metrics = [Metric(**m) for m in metrics]
        runs.append(run)
    head = (f"{report['mode']} run, {report['date']}, commit {report['commit']}, {report['machine']}, "
            f"{report['workers']} workers, {report['seconds']:.0f} s, load average (1/5/15 min) "
            f"{' / '.join(f'{x:.1f}' for x in report['load_average_1_5_15'])}")
    return head + "\n\n" + table(runs)


if __name__ == "__main__":
    print(table_of(Path(sys.argv[1])))
