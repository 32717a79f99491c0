"""Errors igtools reports to its user as one clear line (never a traceback)."""

from __future__ import annotations


class IgtoolsError(Exception):
    """A problem with the user's input or environment.

    The message names the file, path, package or parameter at fault. The CLI prints
    it on one line and exits with :attr:`exit_code` (2: usage or input error).
    """

    exit_code = 2


class PackageError(IgtoolsError):
    """A package cannot be read, found, downloaded or trusted."""


class UnsafeArchiveError(PackageError):
    """A package archive tries to write outside its folder or to exhaust resources."""


class ResourceFileError(PackageError):
    """A resource file is not valid JSON/XML or is not a FHIR resource."""


class XmlContentError(ResourceFileError):
    """Well-formed FHIR XML whose content the base resource model refuses
    (an invalid instance rather than an unreadable file)."""


class DependencyError(PackageError):
    """A dependency could not be resolved and ``--strict`` was given."""


class ConfigError(IgtoolsError):
    """The project configuration (``ig-input/igtools.toml``) is invalid."""
