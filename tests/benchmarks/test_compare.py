"""``benchmarks.compare``: two commits served side by side, measured in alternating rounds."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import compare, servers
from tests.benchmarks import postgres_url

ROOT = Path(__file__).resolve().parents[2]


def test_each_side_is_served_from_its_own_tree_and_the_worktree_goes_away() -> None:
    with compare.worktree("HEAD") as tree:
        server = servers.Server("sqlite:///unused.db", root=tree)
        # This virtualenv's editable install points at this checkout: the other tree must come first.
        found = subprocess.run([sys.executable, "-c", "import lrs; print(lrs.__file__)"], env=server.env(),
                               cwd=tree, capture_output=True, text=True, check=True).stdout.strip()
        assert Path(found) == tree / "lrs" / "__init__.py"
        assert str(tree) in compare.git("worktree", "list")
    assert not tree.exists()
    assert str(tree) not in compare.git("worktree", "list")


def test_a_commit_with_other_migrations_is_refused(capsys) -> None:
    last_change = compare.git("log", "-1", "--format=%H", "--", "migrations")
    if not last_change or not compare.git("rev-list", "--parents", "-1", last_change).split()[1:]:
        pytest.skip("no history before the last migration in this checkout")
    assert compare.main([f"{last_change}^", "--database", "sqlite"]) == 2
    assert "migrations differ" in capsys.readouterr().err


@pytest.mark.e2e
def test_both_sides_take_the_same_statements_round_by_round(tmp_path) -> None:
    output = tmp_path / "compare.json"
    args = [sys.executable, "-m", "benchmarks.compare", "HEAD", "--clients", "1,2", "--rounds", "2",
            "--statements", "40", "--batch", "20", "--learners", "40", "--pathways", "2",
            "--output", str(output)]
    postgres = postgres_url("compare")
    args += ["--postgres-url", postgres] if postgres else ["--database", "sqlite"]
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(output.read_text())
    assert [row["clients"] for row in report["summary"]] == [1, 2]
    for row in report["summary"]:
        for side in ("A", "B"):
            assert len(row[f"{side}_rates"]) == 2 and all(rate > 0 for rate in row[f"{side}_rates"])
            assert row[f"{side}_median"] > 0
        assert row["ratio"] > 0
    assert "B / A" in done.stdout
