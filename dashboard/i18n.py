"""The dashboard's texts in the signed-in user's language (zh-CN unless they chose English).

Its own gettext catalogue (`locale/zh_CN/LC_MESSAGES/dashboard.po`, extracted with
`pybabel extract -F dashboard/babel.toml`), compiled in memory on first use: the dashboard
talks to cloud-duty over HTTP only and shares no code with it.
"""

from __future__ import annotations

import io
from datetime import date
from functools import cache
from gettext import NullTranslations
from pathlib import Path

import streamlit as st
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from dashboard.models import User

CATALOGUE = Path(__file__).resolve().parent / "locale" / "zh_CN" / "LC_MESSAGES" / "dashboard.po"
DEFAULT_LANGUAGE = "zh-CN"


def N_(message: str) -> str:  # noqa: N802  # gettext's name for "mark, translate later"
    """Mark a message for extraction; it is translated where it is shown."""
    return message


@cache
def _chinese() -> NullTranslations:
    with CATALOGUE.open("rb") as source:
        catalogue = read_po(source)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return Translations(fp=buffer, domain="dashboard")


def language() -> str:
    """The signed-in user's language; before sign-in, the product's default."""
    who = st.session_state.get("user")
    chosen = who.language if isinstance(who, User) else DEFAULT_LANGUAGE
    return "en" if chosen.lower().startswith("en") else DEFAULT_LANGUAGE


def translations(code: str) -> NullTranslations:
    """The translations of a language code (English: the message ids)."""
    return NullTranslations() if code == "en" else _chinese()


def _(message: str) -> str:
    """A text in the signed-in user's language."""
    return translations(language()).gettext(message)


def month(day: date) -> str:
    """A month and year as the user reads them (`2026年12月`, `December 2026`)."""
    if language() == "en":
        return str(format_date(day, "LLLL y", locale="en_GB"))
    return str(format_date(day, "y年M月", locale="zh_Hans_CN"))
