"""The command line's language: `UWS_LANGUAGE` (zh-CN unless it says en), read once."""

from __future__ import annotations

from functools import cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from station.i18n import DEFAULT_LANGUAGE, Language, translations


class CliSettings(BaseSettings):
    """What the `station` command reads from the environment for itself."""

    model_config = SettingsConfigDict(env_prefix="UWS_", extra="ignore")

    language: Language = Field(
        default=DEFAULT_LANGUAGE, description="Language of help and messages: zh-CN or en."
    )


@cache
def chosen() -> Language:
    """The language of this run (main() checks the variable before anything is shown)."""
    return CliSettings().language


def _(message: str) -> str:
    """A message in the command line's language."""
    return translations(chosen()).gettext(message)
