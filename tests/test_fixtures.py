"""The committed fixtures in tests/data are what the seeded tests/data/make_fixtures.py makes, and stay small."""

from __future__ import annotations

import subprocess
import sys

from testdata import FIXTURES


def test_fixtures_are_reproduced_by_the_committed_script():
    run = subprocess.run([sys.executable, str(FIXTURES / "make_fixtures.py"), "--check"], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert "up to date" in run.stdout


def test_fixtures_stay_small():
    total = sum(p.stat().st_size for p in FIXTURES.iterdir() if p.is_file() and p.suffix != ".py")
    assert total < 300 * 1024, f"{total / 1024:.0f} KiB"
