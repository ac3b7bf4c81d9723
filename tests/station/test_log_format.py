"""`station --log-format json`: one JSON object a line, for a log collector."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RUN = "from station.cli.main import main; raise SystemExit(main())"


def _station(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k != "UWS_LOG_FORMAT"}
    # English, so the messages can be matched as written in the code.
    environment = {**inherited, "UWS_ENVIRONMENT": "production", "UWS_LANGUAGE": "en", **env}
    return subprocess.run(
        [sys.executable, "-c", RUN, *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_json_logs_are_one_object_a_line(tmp_path: Path) -> None:
    # Production refuses the placeholder secrets: the refusal is logged, then exit 2.
    done = _station(tmp_path, "--log-format", "json", "duty")
    assert done.returncode == 2
    records = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    assert records, done.stderr
    refusal = records[-1]
    assert refusal["level"] == "ERROR"
    assert refusal["logger"] == "station.cli.main"
    assert "cloud-duty settings are invalid" in refusal["message"]
    assert {"time", "level", "logger", "message"} <= set(refusal)


def test_the_format_comes_from_the_environment_and_is_checked(tmp_path: Path) -> None:
    text = _station(tmp_path, "duty", UWS_LOG_FORMAT="text")
    assert "ERROR   station.cli.main: cloud-duty settings are invalid" in text.stderr
    bad = _station(tmp_path, "duty", UWS_LOG_FORMAT="yaml")
    assert bad.returncode == 2
    assert "UWS_LOG_FORMAT must be one of text, json" in bad.stderr
