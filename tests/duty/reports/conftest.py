"""Report fixtures: cloud-duty on a seeded city, shared by a test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.database import fresh_database
from tests.support.seeded_city import SeededDuty, seeded_duty


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> Iterator[SeededDuty]:
    """cloud-duty on a fresh, seeded PostgreSQL database for one test module."""
    with (
        fresh_database("uws_dash") as url,
        seeded_duty(url, tmp_path_factory.mktemp("dash"), media_dir) as duty,
    ):
        yield duty
