"""Summarise py-spy's collapsed stacks: where the workers spent their time, by function.

    python -m benchmarks.profiles benchmarks/results/profile-postgresql-ingest-*.txt
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def summarise(paths: list[Path], top: int = 40) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = stack.split(";")
            # Idle workers wait in gunicorn's select/accept: not the request's cost.
            if any("sleep" in f or "select (selectors" in f or "wait (gunicorn" in f for f in frames[-2:]):
                continue
            total += count
            for frame in set(frames):
                inclusive[frame] += count
            own[frames[-1]] += count
    lines = [f"{total} busy samples"]
    lines.append("-- inclusive (share of busy time spent in and under the function)")
    for frame, count in inclusive.most_common(top):
        lines.append(f"{100 * count / total:5.1f}%  {frame}")
    lines.append("-- own (share of busy time spent in the function itself)")
    for frame, count in own.most_common(top // 2):
        lines.append(f"{100 * count / total:5.1f}%  {frame}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summarise([Path(p) for p in sys.argv[1:]]))
