"""igtools: turn a FHIR R4 Implementation Guide package into working artefacts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("igtools")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
