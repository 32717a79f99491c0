"""The registry client and the loader against a real HTTP registry on 127.0.0.1.

The server (``tests/registry_server.py``) serves the real SAS packages of
``../shared/fhir-packages`` over the npm protocol, records every request and can be
switched into one misbehaviour at a time. Nothing here leaves the loopback interface.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from igtools.cli import cli
from igtools.errors import PackageError
from igtools.packages import Package, PackageLoader, PackageSet, Settings
from igtools.packages.cache import PackageCache
from tests.registry_server import RegistryServer

pytestmark = [pytest.mark.network, pytest.mark.shared]

NAME = "ans.fhir.fr.sas"
SAS_120_DEPS = {
    "hl7.fhir.fr.core",
    "hl7.fhir.r4.core",
    "hl7.fhir.uv.extensions.r4",
    "hl7.terminology.r4",
}
SHORT_TIMEOUT = 0.5  # client timeout of the "slow" tests (the server sleeps 2 s)

MakeServer = Callable[..., RegistryServer]
MakeLoader = Callable[..., PackageLoader]


@pytest.fixture
def sas_only(shared_packages: Path, tmp_path: Path) -> Path:
    """A folder holding links to the SAS packages of ../shared/fhir-packages and nothing
    else: ../shared holds a whole corpus (the SAS dependencies among it), and these tests
    are about a registry that serves the IG but none of its dependencies."""
    folder = tmp_path / "sas-only-registry"
    folder.mkdir()
    for tgz in sorted(shared_packages.glob(f"{NAME}-*.tgz")):
        (folder / tgz.name).symlink_to(tgz)
    return folder


@pytest.fixture
def make_server(sas_only: Path) -> Iterator[MakeServer]:
    """Start registries (serving the SAS packages of ../shared); all stopped at teardown."""
    servers: list[RegistryServer] = []

    def make(mode: str = "ok", folder: Path | None = sas_only) -> RegistryServer:
        server = RegistryServer(folder)
        server.mode = mode
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: MakeServer) -> RegistryServer:
    return make_server()


@pytest.fixture
def make_loader(cache_dir: Path) -> Iterator[MakeLoader]:
    """Loaders on ``cache_dir`` asking only the given servers; all closed at teardown."""
    loaders: list[PackageLoader] = []

    def make(
        *servers: RegistryServer, timeout: float = 5.0, cache: Path = cache_dir
    ) -> PackageLoader:
        settings = Settings(
            cache_dir=cache,
            registries=[s.url for s in servers],
            package_dirs=[],
            timeout=timeout,
        )
        loader = PackageLoader(settings)
        loaders.append(loader)
        return loader

    yield make
    for loader in loaders:
        loader.close()


def cache_listing(cache: Path) -> list[str]:
    """Every entry at the top of the cache (package folders and any temp leftovers)."""
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def profile_count(pkg: Package, pset: PackageSet) -> int:
    return sum(
        1
        for e in pset.index.of_type("StructureDefinition", pkg.id)
        if e.data.get("derivation") == "constraint" and e.data.get("type") != "Extension"
    )


def tar_files(tgz: Path) -> set[str]:
    with tarfile.open(tgz) as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


def folder_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def run_cli(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# ---------------------------------------------------------------------------- download


def test_download_into_cache(
    server: RegistryServer, make_loader: MakeLoader, cache_dir: Path, shared_packages: Path
) -> None:
    pset = make_loader(server).load(f"{NAME}#1.2.0")

    root = pset.root
    assert (root.name, root.version, root.origin) == (NAME, "1.2.0", "registry")
    assert root.location == server.url + server.tarball_path(NAME, "1.2.0")
    folder = cache_dir / f"{NAME}#1.2.0"
    assert (folder / "package" / "package.json").is_file()
    assert json.loads((folder / "package" / "package.json").read_bytes())["version"] == "1.2.0"
    # the whole archive landed, and nothing else (no temp file, no other package)
    assert folder_files(folder) == tar_files(shared_packages / f"{NAME}-1.2.0.tgz")
    assert cache_listing(cache_dir) == [f"{NAME}#1.2.0"]
    assert profile_count(root, pset) == 18

    requests = server.take_requests()
    assert [p for p in requests if p.startswith(f"/{NAME}")] == [
        f"/{NAME}",
        server.tarball_path(NAME, "1.2.0"),
    ]
    # each dependency was asked for once (the test registry does not have them)
    others = sorted(p for p in requests if not p.startswith(f"/{NAME}"))
    assert others == sorted(f"/{d}" for d in SAS_120_DEPS)
    status = {d.name: d.status for d in pset.dependencies}
    assert status == {
        "hl7.fhir.fr.core": "missing",
        "hl7.fhir.r4.core": "provided",
        "hl7.fhir.uv.extensions.r4": "missing",
        "hl7.terminology.r4": "missing",
    }
    fr_core = next(d for d in pset.dependencies if d.name == "hl7.fhir.fr.core")
    assert "404" in fr_core.reason
    assert server.url in fr_core.reason


def test_cache_hit_makes_no_request(server: RegistryServer, make_loader: MakeLoader) -> None:
    first = make_loader(server).load(f"{NAME}#1.2.0", dependencies=False)
    assert first.root.origin == "registry"
    assert len(server.take_requests()) == 2

    again = make_loader(server).load(f"{NAME}#1.2.0", dependencies=False)
    assert again.root.origin == "cache"
    assert again.root.version == "1.2.0"
    assert profile_count(again.root, again) == 18
    assert server.take_requests() == []

    # with dependencies, only the (uncached) dependencies are asked for
    with_deps = make_loader(server).load(f"{NAME}#1.2.0")
    assert with_deps.root.origin == "cache"
    assert sorted(server.take_requests()) == sorted(f"/{d}" for d in SAS_120_DEPS)


@pytest.mark.parametrize(
    ("arg", "version"),
    [
        (f"{NAME}#latest", "1.2.0"),
        (NAME, "1.2.0"),
        (f"{NAME}@1.1.0", "1.1.0"),
        (f"{NAME}@1.2.0", "1.2.0"),
        (f"{NAME}#1.1.x", "1.1.0"),
        (f"{NAME}#1.x", "1.2.0"),
    ],
)
def test_version_forms(
    arg: str, version: str, server: RegistryServer, make_loader: MakeLoader, cache_dir: Path
) -> None:
    pset = make_loader(server).load(arg, dependencies=False)
    assert (pset.root.version, pset.root.origin) == (version, "registry")
    assert server.tarball_path(NAME, version) in server.requests
    assert sum(p.endswith(".tgz") for p in server.requests) == 1
    assert cache_listing(cache_dir) == [f"{NAME}#{version}"]


def test_latest_follows_dist_tags(server: RegistryServer, make_loader: MakeLoader) -> None:
    server.latest[NAME] = "1.1.0"  # the registry says latest is not the highest
    pset = make_loader(server).load(f"{NAME}#latest", dependencies=False)
    assert pset.root.version == "1.1.0"


def test_latest_asks_the_registry_even_when_cached(
    server: RegistryServer, make_loader: MakeLoader
) -> None:
    make_loader(server).load(f"{NAME}#1.1.0", dependencies=False)
    server.take_requests()
    pset = make_loader(server).load(f"{NAME}#latest", dependencies=False)
    assert (pset.root.version, pset.root.origin) == ("1.2.0", "registry")


def test_unknown_version_lists_known_ones(server: RegistryServer, make_loader: MakeLoader) -> None:
    with pytest.raises(PackageError) as err:
        make_loader(server).load(f"{NAME}#9.9.9", dependencies=False)
    msg = str(err.value)
    assert f"{NAME}#9.9.9" in msg
    assert "no version 9.9.9" in msg
    assert "1.1.0, 1.2.0" in msg


# ---------------------------------------------------------------------------- integrity


@pytest.mark.parametrize("mode", ["bad-shasum", "truncated"])
def test_shasum_mismatch_refused(
    mode: str, make_server: MakeServer, make_loader: MakeLoader, cache_dir: Path
) -> None:
    server = make_server(mode)
    with pytest.raises(PackageError) as err:
        make_loader(server).load(f"{NAME}#1.2.0", dependencies=False)
    msg = str(err.value)
    assert "shasum mismatch" in msg
    assert f"{NAME}#1.2.0" in msg
    assert server.tarball_path(NAME, "1.2.0") in server.requests
    # nothing installed, no temp file or folder left behind
    assert cache_listing(cache_dir) == []


def test_tarball_404(make_server: MakeServer, make_loader: MakeLoader, cache_dir: Path) -> None:
    server = make_server("tarball-404")
    with pytest.raises(PackageError) as err:
        make_loader(server).load(f"{NAME}#1.2.0", dependencies=False)
    msg = str(err.value)
    assert "HTTP 404" in msg
    assert server.url + server.tarball_path(NAME, "1.2.0") in msg
    assert cache_listing(cache_dir) == []


# ---------------------------------------------------------------------------- failures


def test_404_names_the_package(make_server: MakeServer, make_loader: MakeLoader) -> None:
    server = make_server("404")
    with pytest.raises(PackageError) as err:
        make_loader(server).load(f"{NAME}#1.2.0", dependencies=False)
    msg = str(err.value)
    assert f"{NAME}#1.2.0" in msg
    assert f"{server.url}/{NAME}: 404" in msg
    assert server.requests == [f"/{NAME}"]


def test_unknown_package_404(server: RegistryServer, make_loader: MakeLoader) -> None:
    with pytest.raises(PackageError) as err:
        make_loader(server).load("no.such.package#1.0.0", dependencies=False)
    assert "no.such.package#1.0.0" in str(err.value)
    assert "404" in str(err.value)


@pytest.mark.parametrize("mode", ["404", "500", "garbage", "no-versions", "slow"])
def test_second_registry_serves_when_first_fails(
    mode: str, make_server: MakeServer, make_loader: MakeLoader
) -> None:
    first, second = make_server(mode), make_server()
    pset = make_loader(first, second, timeout=SHORT_TIMEOUT).load(
        f"{NAME}#1.2.0", dependencies=False
    )
    assert (pset.root.version, pset.root.origin) == ("1.2.0", "registry")
    assert pset.root.location == second.url + second.tarball_path(NAME, "1.2.0")
    assert first.requests == [f"/{NAME}"]
    assert second.requests == [f"/{NAME}", second.tarball_path(NAME, "1.2.0")]


def test_first_registry_wins_when_both_serve(
    make_server: MakeServer, make_loader: MakeLoader
) -> None:
    first, second = make_server(), make_server()
    pset = make_loader(first, second).load(f"{NAME}#1.2.0", dependencies=False)
    assert pset.root.location.startswith(first.url)
    assert second.requests == []


def test_all_registries_failing(make_server: MakeServer, make_loader: MakeLoader) -> None:
    modes = ["404", "500", "slow", "garbage", "no-versions"]
    servers = [make_server(m) for m in modes]
    with pytest.raises(PackageError) as err:
        make_loader(*servers, timeout=SHORT_TIMEOUT).load(f"{NAME}#1.2.0", dependencies=False)
    msg = str(err.value)
    assert f"{NAME}#1.2.0" in msg
    url = {m: f"{s.url}/{NAME}" for m, s in zip(modes, servers, strict=True)}
    assert f"{url['404']}: 404, package unknown" in msg
    assert f"{url['500']}: HTTP 500" in msg
    assert f"{url['slow']}: no answer within 0.5 s" in msg
    assert f"{url['garbage']}: the answer is not JSON" in msg
    assert f"{url['no-versions']}: the answer is not package metadata (no 'versions')" in msg
    assert all(s.requests == [f"/{NAME}"] for s in servers)


def test_all_registries_failing_latest(make_server: MakeServer, make_loader: MakeLoader) -> None:
    first, second = make_server("500"), make_server("garbage")
    with pytest.raises(PackageError) as err:
        make_loader(first, second).load(f"{NAME}#latest", dependencies=False)
    msg = str(err.value)
    assert f"{NAME}#latest" in msg
    assert "HTTP 500" in msg
    assert "not JSON" in msg


def test_unreachable_registry(
    make_server: MakeServer, make_loader: MakeLoader, cache_dir: Path
) -> None:
    dead = make_server()
    dead.stop()  # nothing listens on its port any more
    with pytest.raises(PackageError) as err:
        make_loader(dead).load(f"{NAME}#1.2.0", dependencies=False)
    assert f"{dead.url}/{NAME}: cannot connect" in str(err.value)
    assert not (cache_dir / f"{NAME}#1.2.0").exists()


def test_cache_dir_not_creatable(
    server: RegistryServer, make_loader: MakeLoader, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(PackageError) as err:
        make_loader(server, cache=blocker / "cache").load(f"{NAME}#1.2.0", dependencies=False)
    assert str(blocker / "cache") in str(err.value)


# ---------------------------------------------------------------------------- offline


def test_offline_never_asks(server: RegistryServer, cache_dir: Path) -> None:
    base = ["--offline", "--cache-dir", str(cache_dir), "--registry", server.url]
    code, out, err = run_cli([*base, "inspect", f"{NAME}#1.2.0"])
    assert code == 2
    assert out == ""
    assert err.startswith(f"error: {NAME}#1.2.0: not found")
    assert "offline" in err
    assert server.requests == []
    assert cache_listing(cache_dir) == []


def test_offline_uses_the_cache(
    server: RegistryServer, cache_dir: Path, shared_packages: Path
) -> None:
    PackageCache(cache_dir).install(shared_packages / f"{NAME}-1.2.0.tgz", NAME, "1.2.0")
    base = ["--offline", "--cache-dir", str(cache_dir), "--registry", server.url]
    for arg in (f"{NAME}#1.2.0", f"{NAME}#latest", f"{NAME}#1.2.x"):
        code, out, err = run_cli([*base, "inspect", "--json", arg])
        assert code == 0, err
        summary = json.loads(out)
        assert summary["package"]["version"] == "1.2.0"
        assert summary["package"]["origin"] == "cache"
        assert summary["counts"]["profiles"] == 18
    assert server.requests == []


# ---------------------------------------------------------------------------- CLI


def test_cli_inspect_from_registry(server: RegistryServer, cache_dir: Path) -> None:
    base = ["--cache-dir", str(cache_dir), "--registry", server.url, "--timeout", "5"]
    code, out, err = run_cli([*base, "inspect", "--json", f"{NAME}#1.2.0"])
    assert code == 0, err
    summary = json.loads(out)
    assert summary["package"]["origin"] == "registry"
    assert summary["package"]["location"] == server.url + server.tarball_path(NAME, "1.2.0")
    counts = summary["counts"]
    assert {k: counts[k] for k in counts if k not in ("logical_models", "other_resources")} == {
        "profiles": 18,
        "extensions": 2,
        "value_sets": 9,
        "code_systems": 1,
        "capability_statements": 9,
        "search_parameters": 2,
        "examples": 45,
    }
    deps = {d["name"]: d for d in summary["dependencies"]}
    assert set(deps) == SAS_120_DEPS
    assert deps["hl7.fhir.fr.core"]["status"] == "missing"
    assert deps["hl7.fhir.fr.core"]["wanted"] == "1.1.0"
    assert deps["hl7.fhir.r4.core"]["status"] == "provided"
    assert "warning: dependency hl7.fhir.fr.core#1.1.0" in err
    assert (cache_dir / f"{NAME}#1.2.0" / "package" / "package.json").is_file()

    # the cache now serves it: only the missing dependencies are asked again
    server.take_requests()
    code, out, err = run_cli([*base, "inspect", "--json", f"{NAME}#1.2.0"])
    assert code == 0, err
    assert json.loads(out)["package"]["origin"] == "cache"
    assert not [p for p in server.requests if p.startswith(f"/{NAME}")]


def test_cli_all_registries_fail(make_server: MakeServer, cache_dir: Path) -> None:
    first, second = make_server("500"), make_server("slow")
    args = ["--cache-dir", str(cache_dir), "--registry", first.url, "--registry", second.url]
    code, out, err = run_cli([*args, "--timeout", "0.5", "inspect", f"{NAME}#1.2.0"])
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert len(err.strip().splitlines()) == 1  # one line, no traceback
    assert f"{first.url}/{NAME}: HTTP 500" in err
    assert f"{second.url}/{NAME}: no answer within 0.5 s" in err


# ---------------------------------------------------------------------------- concurrency


def _assert_one_complete_copy(cache_dir: Path, shared_packages: Path) -> None:
    assert cache_listing(cache_dir) == [f"{NAME}#1.2.0"]
    folder = cache_dir / f"{NAME}#1.2.0"
    assert folder_files(folder) == tar_files(shared_packages / f"{NAME}-1.2.0.tgz")


def test_concurrent_threads_share_one_install(
    server: RegistryServer, make_loader: MakeLoader, cache_dir: Path, shared_packages: Path
) -> None:
    # both tarball requests are held until both have arrived: the downloads overlap
    server.tarball_gate = threading.Barrier(2, timeout=10)
    loaders = [make_loader(server), make_loader(server)]
    results: list[PackageSet | BaseException | None] = [None, None]

    def work(i: int) -> None:
        try:
            results[i] = loaders[i].load(f"{NAME}#1.2.0", dependencies=False)
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads)
    for res in results:
        assert isinstance(res, PackageSet), res
        assert (res.root.version, res.root.origin) == ("1.2.0", "registry")
        assert profile_count(res.root, res) == 18
    assert sorted(server.requests).count(server.tarball_path(NAME, "1.2.0")) == 2
    _assert_one_complete_copy(cache_dir, shared_packages)


def test_concurrent_processes_share_one_install(
    server: RegistryServer, cache_dir: Path, shared_packages: Path
) -> None:
    server.tarball_gate = threading.Barrier(2, timeout=15)
    cmd = [sys.executable, "-m", "igtools", "--cache-dir", str(cache_dir)]
    cmd += ["--registry", server.url, "--timeout", "20", "fetch", f"{NAME}#1.2.0"]
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=30) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert out.splitlines()[0].startswith(f"{NAME}#1.2.0\tregistry\t{server.url}/")
        assert "hl7.fhir.fr.core#1.1.0\tmissing" in out
    assert server.requests.count(server.tarball_path(NAME, "1.2.0")) == 2
    _assert_one_complete_copy(cache_dir, shared_packages)


@pytest.mark.parametrize("mode", ["bad-shasum", "truncated", "tarball-404"])
def test_bad_tarball_on_first_registry_falls_back(
    mode: str, make_server: MakeServer, make_loader: MakeLoader, cache_dir: Path
) -> None:
    """Metadata fine but the tarball bad on the first registry: the second one serves."""
    first, second = make_server(mode), make_server()
    pset = make_loader(first, second).load(f"{NAME}#1.2.0", dependencies=False)
    assert pset.root.location == second.url + second.tarball_path(NAME, "1.2.0")
    assert first.requests == [f"/{NAME}", first.tarball_path(NAME, "1.2.0")]
    assert cache_listing(cache_dir) == [f"{NAME}#1.2.0"]
