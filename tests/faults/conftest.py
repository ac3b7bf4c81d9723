"""The fault suite prints its table (and every run's seed) at the end of the session."""

from __future__ import annotations

import pytest

from tests.faults.harness import RESULTS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """One line per fault run: what was produced, stored, lost, doubled, paged."""
    if not RESULTS:
        return
    write = terminalreporter.write_line
    write("")
    head = ("fault", "seed", "produced", "stored", "lost", "dup", "delivered", "failed over")
    write("{:<22} {:>11} {:>8} {:>6} {:>4} {:>3} {:>9} {:>11}".format(*head))
    for r in RESULTS:
        write(
            f"{r.fault:<22} {r.seed:>11} {r.produced:>8} {r.stored:>6} {r.lost:>4} "
            f"{r.duplicated:>3} {r.pages_delivered:>9} {r.pages_failed_over:>11}"
        )
