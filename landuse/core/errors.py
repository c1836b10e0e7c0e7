"""Exceptions and warnings raised by landuse.

Every exception carries a message meant for bureau staff: it names the file,
the feature or field involved and how to fix it.  The CLI prints that message
on one line and exits with status 2.
"""

from __future__ import annotations

__all__ = [
    "CRSError",
    "CRSMismatchError",
    "ConfigError",
    "DatabaseError",
    "DuplicateIdError",
    "EncodingError",
    "FontError",
    "LanduseError",
    "LanduseWarning",
    "LayerNotFoundError",
    "LayerReadError",
    "LedgerError",
    "SchemaError",
]


class LanduseError(Exception):
    """Base class of every error landuse raises on purpose."""


class LayerReadError(LanduseError, ValueError):
    """A layer file cannot be read: empty, not spatial, corrupt or unsupported."""


class LayerNotFoundError(LayerReadError, FileNotFoundError):
    """A layer file, or a named layer inside it, does not exist."""


class EncodingError(LayerReadError):
    """The text encoding of a layer's attributes cannot be determined."""


class CRSError(LanduseError, ValueError):
    """A layer has no coordinate reference system, or an unusable one."""


class CRSMismatchError(CRSError):
    """Two layers combined in one analysis are in different CRSs."""


class SchemaError(LanduseError, ValueError):
    """A layer or table lacks required fields or has invalid values."""


class DuplicateIdError(SchemaError):
    """Identifiers that must be unique (parcel ids, enterprise codes) repeat.

    Attributes
    ----------
    duplicates : list of str
        The repeated identifiers, sorted.
    """

    def __init__(self, message: str, duplicates: list[str]) -> None:
        super().__init__(message)
        self.duplicates = duplicates


class LedgerError(LanduseError, ValueError):
    """The idle-land ledger refuses a write or fails verification.

    Raised for an import whose content the ledger already holds, and for a
    ledger whose rows no longer match their hash chain or head record.
    """


class ConfigError(LanduseError, ValueError):
    """The project file (landuse.toml) is missing, malformed or inconsistent."""


class FontError(LanduseError, RuntimeError):
    """Chinese text cannot be drawn: no usable font, or a character no font has."""


class DatabaseError(LanduseError, RuntimeError):
    """The shared database refused a read or a write (the URL shown without password)."""


class LanduseWarning(UserWarning):
    """Something was inferred or repaired; results are valid but worth a look."""
