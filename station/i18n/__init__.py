"""Languages of the texts people read: zh-CN first, English second, from gettext catalogues.

The catalogues are Babel `.po` sources under `locale/` (extracted with `pybabel extract -F
babel.cfg`); they are compiled in memory on first use, so no build step can leave a stale
`.mo` behind. English is the message id itself, so English needs no catalogue.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime
from enum import StrEnum
from functools import cache
from gettext import NullTranslations
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

logger = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
DEFAULT_TIME_ZONE = "Asia/Shanghai"


class Language(StrEnum):
    """A language a person may choose for what they read."""

    ZH_CN = "zh-CN"
    EN = "en"


DEFAULT_LANGUAGE = Language.ZH_CN


def po_path(language: Language, locale_dir: Path = LOCALE_DIR, domain: str = DOMAIN) -> Path:
    """Where a language's `.po` source lives."""
    return locale_dir / language.value.replace("-", "_") / "LC_MESSAGES" / f"{domain}.po"


@cache
def _compiled(path: Path) -> NullTranslations:
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as source:
        catalogue = read_po(source)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return Translations(fp=buffer, domain=path.stem)


def translations(
    language: Language | str, locale_dir: Path = LOCALE_DIR, domain: str = DOMAIN
) -> NullTranslations:
    """The gettext translations of a language (English and unknown codes: the ids)."""
    chosen = parse_language(language)
    if chosen is Language.EN:
        return NullTranslations()
    return _compiled(po_path(chosen, locale_dir, domain))


def parse_language(value: Language | str | None) -> Language:
    """A language from a code such as `zh-CN`, `zh_CN`, `en-US`; the default when unknown."""
    if isinstance(value, Language):
        return value
    code = (value or "").replace("_", "-").lower()
    if code.startswith("en"):
        return Language.EN
    return DEFAULT_LANGUAGE


def catalogue(language: Language | str) -> dict[str, str]:
    """Every translated message of a language, id -> text (the duty console reads this)."""
    chosen = parse_language(language)
    if chosen is Language.EN:
        return {}
    path = po_path(chosen)
    if not path.exists():
        return {}
    with path.open("rb") as source:
        messages = read_po(source)
    return {str(m.id): str(m.string) for m in messages if m.id and m.string}


def zone(name: str | None) -> ZoneInfo:
    """A time zone by its IANA name; the station default when empty or unknown."""
    try:
        return ZoneInfo(name or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r: using %s", name, DEFAULT_TIME_ZONE)
        return ZoneInfo(DEFAULT_TIME_ZONE)


def local_time(at: datetime, time_zone: str | None, language: Language | str) -> str:
    """A moment as a person reads it: in the station's zone, formatted for their language."""
    chosen = parse_language(language)
    locale = "zh_Hans_CN" if chosen is Language.ZH_CN else "en_GB"
    return format_datetime(at, "yyyy-MM-dd HH:mm", tzinfo=zone(time_zone), locale=locale)
