"""The `station` command speaks Chinese unless UWS_LANGUAGE says English, and refuses any
other language before doing anything."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from station.cli import language
from station.cli.main import main


@pytest.fixture(autouse=True)
def _fresh_language() -> Iterator[None]:
    language.chosen.cache_clear()
    yield
    language.chosen.cache_clear()


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as stopped:
        main([*argv, "--help"])
    assert stopped.value.code == 0
    return capsys.readouterr().out


def test_help_is_chinese_by_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UWS_LANGUAGE", raising=False)
    text = _help(capsys, "member", "revoke")
    assert "云值班的地址" in text
    assert "base URL" not in text


def test_help_is_english_when_asked(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UWS_LANGUAGE", "en")
    assert "cloud-duty's base URL" in _help(capsys, "member", "revoke")


def test_an_unknown_language_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UWS_LANGUAGE", "fr")
    assert main(["keys", "show", "--file", "/nonexistent/keys.json"]) == 2
    assert "UWS_LANGUAGE must be zh-CN or en" in capsys.readouterr().err


def test_errors_reach_the_user_in_their_language(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("UWS_API_TOKEN", raising=False)
    monkeypatch.delenv("UWS_LANGUAGE", raising=False)
    assert main(["member", "show", "m-1"]) == 2
    assert "请把 UWS_API_TOKEN 设为云值班的 API 令牌" in caplog.text
