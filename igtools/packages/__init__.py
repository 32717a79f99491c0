"""Stage 1 of the pipeline: find, fetch, unpack safely and index FHIR packages."""

from igtools.packages.archive import Limits
from igtools.packages.cache import PackageCache, default_cache_dir
from igtools.packages.index import ResourceIndex
from igtools.packages.loader import DependencyStatus, PackageLoader, PackageSet, Settings
from igtools.packages.package import Package
from igtools.packages.resources import ResourceEntry
from igtools.packages.spec import PackageRef, parse_package_arg

__all__ = [
    "DependencyStatus",
    "Limits",
    "Package",
    "PackageCache",
    "PackageLoader",
    "PackageRef",
    "PackageSet",
    "ResourceEntry",
    "ResourceIndex",
    "Settings",
    "default_cache_dir",
    "parse_package_arg",
]
