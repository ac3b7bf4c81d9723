"""Consent texts as versioned files: `consent_texts/<kind>/<version>.md`, zh-CN first and
English second. A consent record keeps the version and the SHA-256 of the file shown, so
what a member agreed to can be shown again, word for word, years later.

A published version is never edited: a change is a new version file.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from station.duty.errors import ConflictError, NotFoundError
from station.duty.people.models import ConsentKind

TEXTS = Path(__file__).parent / "consent_texts"
_VERSION = re.compile(r"^v[0-9]{1,4}$")


class ConsentTextNotFoundError(NotFoundError):
    """No consent text of that kind and version."""


class ConsentTextMismatchError(ConflictError):
    """The text the member was shown is not the text of the version named."""


@dataclass(frozen=True)
class ConsentText:
    """One version of a consent text."""

    kind: ConsentKind
    version: str
    sha256: str
    text: str


class ConsentTextPublic(BaseModel):
    """A consent text as the API shows it."""

    kind: ConsentKind
    version: str
    sha256: str
    languages: list[str] = ["zh-CN", "en"]
    text: str


def _version_key(version: str) -> int:
    return int(version[1:])


@cache
def consent_text(kind: ConsentKind, version: str) -> ConsentText:
    """The text of a version, read from its file; ConsentTextNotFoundError if none."""
    if not _VERSION.match(version):
        raise ConsentTextNotFoundError(f"no {kind.value} consent text {version!r}")
    path = TEXTS / kind.value / f"{version}.md"
    try:
        raw = path.read_bytes()
    except FileNotFoundError as err:
        raise ConsentTextNotFoundError(f"no {kind.value} consent text {version!r}") from err
    return ConsentText(kind, version, hashlib.sha256(raw).hexdigest(), raw.decode("utf-8"))


def versions(kind: ConsentKind) -> list[str]:
    """Every published version of a kind, oldest first."""
    found = [p.stem for p in (TEXTS / kind.value).glob("*.md") if _VERSION.match(p.stem)]
    return sorted(found, key=_version_key)


def current(kind: ConsentKind) -> ConsentText:
    """The newest version of a kind: the one a station shows now."""
    listed = versions(kind)
    if not listed:
        raise ConsentTextNotFoundError(f"no {kind.value} consent text")
    return consent_text(kind, listed[-1])


def checked(kind: ConsentKind, version: str, shown_sha256: str | None) -> ConsentText:
    """The text of the version a consent names; refused if the text shown was another."""
    text = consent_text(kind, version)
    if shown_sha256 is not None and shown_sha256 != text.sha256:
        raise ConsentTextMismatchError(
            f"the text shown is not {kind.value} consent text {version} (sha256 differs)"
        )
    return text


def public(text: ConsentText) -> ConsentTextPublic:
    """The API shape of a text."""
    return ConsentTextPublic(
        kind=text.kind, version=text.version, sha256=text.sha256, text=text.text
    )
