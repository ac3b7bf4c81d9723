"""The fixed words of alerts (kinds, severities, states, verdicts), marked for translation."""

from __future__ import annotations

from collections.abc import Mapping

from station.i18n import Language, translations


def N_(message: str) -> str:  # noqa: N802  # gettext's name for "mark, translate later"
    """Mark a message for extraction; it is translated where it is shown."""
    return message


KINDS = {
    "person": N_("person"),
    "fall": N_("fall"),
    "fire": N_("fire"),
    "smoke": N_("smoke"),
    "crowd": N_("crowd"),
    "heat": N_("heat"),
    "door_forced": N_("door forced"),
    "door_held_open": N_("door held open"),
    "overcurrent": N_("overcurrent"),
    "device_offline": N_("device offline"),
    "station_offline": N_("station offline"),
}
SEVERITIES = {
    "info": N_("info"),
    "warning": N_("warning"),
    "major": N_("major"),
    "critical": N_("critical"),
}
STATUSES = {
    "open": N_("open"),
    "acknowledged": N_("acknowledged"),
    "resolved": N_("resolved"),
}
VERDICTS = {"confirmed": N_("confirmed"), "false_alarm": N_("false alarm")}


def label(words: Mapping[str, str], key: str, language: Language | str) -> str:
    """A word of the table in a language; an unknown key is shown as it is, spaced."""
    english = words.get(key, key.replace("_", " "))
    return translations(language).gettext(english)


ROLES = {
    "admin": N_("admin"),
    "duty": N_("duty"),
    "manager": N_("manager"),
    "node": N_("node"),
    "member": N_("member"),
}
