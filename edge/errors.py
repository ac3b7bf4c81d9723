"""The edge node's errors: one hierarchy, each a ValueError or RuntimeError as well."""

from __future__ import annotations


class EdgeError(Exception):
    """Base of every edge error; the message says what went wrong and why."""


class ConfigError(EdgeError, ValueError):
    """A configuration file that cannot be used; the message names the file, field and reason."""


class DevicePayloadError(EdgeError, ValueError):
    """A device payload that does not parse; the message says why."""


class EnrolmentError(EdgeError, RuntimeError):
    """Enrolment could not be done; nothing was stored. The message says why."""


class GalleryError(EdgeError, ValueError):
    """A gallery file or transfer that cannot be read, or an action consent does not allow."""


class EntrySyncError(EdgeError, RuntimeError):
    """cloud-duty could not be reached or answered something unreadable."""


class ModelUpdateError(EdgeError, RuntimeError):
    """A model update could not be fetched or verified; the running model stays."""
