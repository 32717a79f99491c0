"""A client for FHIR package registries (the npm protocol).

``GET {registry}/{name}`` gives the package metadata (``versions`` with ``dist.tarball``
and ``dist.shasum``, and ``dist-tags``); the tarball is then downloaded, its SHA-1
checked against the shasum, and handed to the cache.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from igtools import __version__
from igtools.errors import PackageError
from igtools.packages.spec import LATEST, PackageRef, pick_version, version_key

log = logging.getLogger(__name__)

DEFAULT_REGISTRIES = ("https://packages.fhir.org", "https://packages2.fhir.org/packages")
MAX_DOWNLOAD_BYTES = 1 << 30


class RegistryNotFound(PackageError):
    """No registry knows this package or version."""


class RegistryFailure(PackageError):
    """No registry could give the package; ``problems`` says what each answered."""

    def __init__(self, message: str, problems: list[str], all_not_found: bool) -> None:
        super().__init__(message)
        self.problems = problems
        self.all_not_found = all_not_found


@dataclass(frozen=True)
class Release:
    name: str
    version: str
    tarball: str
    shasum: str | None
    registry: str


class RegistryClient:
    def __init__(self, registries: list[str], timeout: float = 30.0) -> None:
        self.registries = [r.rstrip("/") for r in registries]
        self.timeout = timeout
        self._client: httpx.Client | None = None
        self._meta: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests = 0

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(self.timeout),
                follow_redirects=True,
                headers={"User-Agent": f"igtools/{__version__}", "Accept": "application/json"},
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _metadata(self, registry: str, name: str) -> dict[str, Any]:
        key = (registry, name)
        if key not in self._meta:
            self._meta[key] = self._fetch_metadata(registry, name)
        return self._meta[key]

    def _fetch_metadata(self, registry: str, name: str) -> dict[str, Any]:
        url = f"{registry}/{quote(name)}"
        self.requests += 1
        try:
            resp = self._http().get(url)
        except httpx.TimeoutException as exc:
            raise PackageError(f"{url}: no answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise PackageError(f"{url}: cannot connect ({exc})") from exc
        if resp.status_code == 404:
            raise RegistryNotFound(f"{url}: 404, package unknown")
        if resp.status_code != 200:
            raise PackageError(f"{url}: HTTP {resp.status_code}")
        try:
            data = resp.json()
        except ValueError as exc:
            raise PackageError(f"{url}: the answer is not JSON package metadata") from exc
        if not isinstance(data, dict) or not isinstance(data.get("versions"), dict):
            raise PackageError(f"{url}: the answer is not package metadata (no 'versions')")
        return data

    def find(self, ref: PackageRef, skip: frozenset[str] = frozenset()) -> Release:
        """Ask each registry in turn (but those in ``skip``); the first that has it wins."""
        problems: list[str] = []
        all_404 = True
        for registry in self.registries:
            if registry in skip:
                continue
            try:
                meta = self._metadata(registry, ref.name)
            except RegistryNotFound as exc:
                problems.append(str(exc))
                continue
            except PackageError as exc:
                all_404 = False
                problems.append(str(exc))
                continue
            versions: dict[str, Any] = meta["versions"]
            version: str | None
            if ref.version == LATEST:
                tags = meta.get("dist-tags")
                version = tags.get("latest") if isinstance(tags, dict) else None
                if not isinstance(version, str) or version not in versions:
                    version = pick_version(list(versions), LATEST)
            else:
                version = pick_version(list(versions), ref.version)
            if version is None:
                known = ", ".join(sorted(versions, key=version_key)[-8:]) or "none"
                problems.append(
                    f"{registry}: no version {ref.version} of {ref.name} (has: {known})"
                )
                continue
            info = versions.get(version)
            dist = info.get("dist") if isinstance(info, dict) else None
            dist = dist if isinstance(dist, dict) else {}
            tarball = dist.get("tarball")
            if not isinstance(tarball, str) or not tarball:
                tarball = f"{registry}/{quote(ref.name)}/{quote(version)}"
            shasum = dist.get("shasum")
            return Release(
                ref.name, version, tarball, shasum if isinstance(shasum, str) else None, registry
            )
        detail = "; ".join(problems) if problems else "no registry configured"
        raise RegistryFailure(f"{ref}: not found in the registries ({detail})", problems, all_404)

    def download(self, release: Release, dest: Path) -> None:
        """Stream the tarball into ``dest`` and check its shasum."""
        sha1 = hashlib.sha1()
        size = 0
        self.requests += 1
        try:
            with self._http().stream("GET", release.tarball) as resp:
                if resp.status_code != 200:
                    raise PackageError(f"{release.tarball}: HTTP {resp.status_code}")
                with open(dest, "wb") as out:
                    for chunk in resp.iter_raw(1 << 16):  # the bytes as sent
                        size += len(chunk)
                        if size > MAX_DOWNLOAD_BYTES:
                            raise PackageError(
                                f"{release.tarball}: larger than {MAX_DOWNLOAD_BYTES >> 20} MiB"
                            )
                        sha1.update(chunk)
                        out.write(chunk)
        except httpx.TimeoutException as exc:
            raise PackageError(f"{release.tarball}: no answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise PackageError(f"{release.tarball}: download failed ({exc})") from exc
        got = sha1.hexdigest()
        if release.shasum is None:
            log.warning(
                "%s: the registry gives no shasum for %s#%s: integrity not verified",
                release.registry,
                release.name,
                release.version,
            )
        elif got.lower() != release.shasum.lower():
            raise PackageError(
                f"{release.tarball}: shasum mismatch for {release.name}#{release.version} "
                f"(registry says {release.shasum}, download is {got}): refused"
            )
