"""Hostile package archives: nothing escapes, nothing is left behind, one clear error.

Every archive is built here, in ``tmp_path``, with :mod:`tarfile`/:mod:`gzip` (no
binary is committed). Each one is tried three ways: read in memory
(:func:`read_package_archive`), extracted into the cache (:meth:`PackageCache.install`)
and through the CLI (``igtools inspect bad.tgz``).
"""

from __future__ import annotations

import gzip
import io
import json
import random
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from igtools.cli import cli
from igtools.errors import PackageError, UnsafeArchiveError
from igtools.packages import PackageLoader, Settings
from igtools.packages.archive import ArchiveReport
from igtools.packages.cache import PackageCache
from igtools.packages.package import read_package_archive

NAME, VERSION = "example.fhir.mini", "0.1.0"
MINI = Path(__file__).resolve().parents[1] / "fixtures" / "mini-ig"

MANIFEST = json.dumps(
    {"name": NAME, "version": VERSION, "fhirVersions": ["4.0.1"], "dependencies": {}}
).encode()
RESOURCE = json.dumps(
    {
        "resourceType": "CodeSystem",
        "id": "cs",
        "url": "http://example.org/cs",
        "content": "complete",
    }
).encode()

Member = tuple[tarfile.TarInfo, bytes | None]


# --------------------------------------------------------------------------- builders


def file_member(name: str, data: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    return info, data


def link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def special_member(name: str, kind: bytes) -> Member:
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3  # /dev/null
    return info, None


def valid_members() -> list[Member]:
    return [
        file_member("package/package.json", MANIFEST),
        file_member("package/CodeSystem-cs.json", RESOURCE),
    ]


def write_tgz(path: Path, members: list[Member]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def fixture_tgz(path: Path) -> Path:
    """The mini IG fixture as a genuine package .tgz."""
    with tarfile.open(path, "w:gz") as tf:
        tf.add(MINI / "package", arcname="package")
    return path


def tree(root: Path, exclude: Path | None = None) -> set[str]:
    """Every path under ``root`` (links included, not followed), minus ``exclude``."""
    out = set()
    for p in root.rglob("*"):
        if exclude is not None and (p == exclude or exclude in p.parents):
            continue
        out.add(p.relative_to(root).as_posix() + ("@" if p.is_symlink() else ""))
    return out


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Bad:
    """A hostile or broken archive, the error expected and a phrase of its message."""

    build: Callable[[Path], Path]  # tmp_path -> archive path
    error: type[PackageError]
    phrase: str


def _with(*extra: Member, first: bool = False) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        members = [*extra, *valid_members()] if first else [*valid_members(), *extra]
        return write_tgz(tmp / "bad.tgz", members)

    return build


def _absolute(tmp: Path) -> Path:
    # points at a real place beside the cache: it must never be created
    target = (tmp / "abs-escaped.txt").as_posix()
    return write_tgz(tmp / "bad.tgz", [*valid_members(), file_member(target, b"pwned")])


def _bomb(tmp: Path) -> Path:
    # 3 MiB of zeros: a few KiB compressed; the limit is set to 1 MiB by the test. Not a
    # .json: the in-memory reader would not even keep it, yet it must count.
    return _with(file_member("package/zeros.bin", bytes(3 << 20)))(tmp)


def _many(tmp: Path) -> Path:
    extra = [file_member(f"package/r{i}.json", RESOURCE) for i in range(10)]
    return _with(*extra)(tmp)


def _corrupt(tmp: Path) -> Path:
    path = tmp / "bad.tgz"
    path.write_bytes(random.Random(4).randbytes(8192))
    return path


def _gzip_not_tar(tmp: Path) -> Path:
    path = tmp / "bad.tgz"
    path.write_bytes(gzip.compress(b"this is gzip, but there is no tar archive inside\n" * 50))
    return path


def _empty_gzip(tmp: Path) -> Path:
    path = tmp / "bad.tgz"
    path.write_bytes(gzip.compress(b""))
    return path


def _truncated(tmp: Path) -> Path:
    whole = fixture_tgz(tmp / "whole.tgz").read_bytes()
    (tmp / "whole.tgz").unlink()
    path = tmp / "bad.tgz"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _no_manifest(tmp: Path) -> Path:
    return write_tgz(
        tmp / "bad.tgz",
        [
            file_member("other/package.json", MANIFEST),
            file_member("package/CodeSystem-cs.json", RESOURCE),
            file_member("README.md", b"not a FHIR package\n"),
        ],
    )


CASES: dict[str, Bad] = {
    "dotdot": Bad(
        _with(file_member("package/../../escaped.txt", b"pwned")), UnsafeArchiveError, "'..'"
    ),
    "dotdot-first": Bad(
        _with(file_member("../escaped.txt", b"pwned"), first=True), UnsafeArchiveError, "'..'"
    ),
    "absolute": Bad(_absolute, UnsafeArchiveError, "absolute member path"),
    "drive-letter": Bad(
        _with(file_member("C:/escaped.txt", b"pwned")), UnsafeArchiveError, "absolute member path"
    ),
    "backslash": Bad(
        _with(file_member("package\\..\\..\\escaped.txt", b"pwned")),
        UnsafeArchiveError,
        "backslash",
    ),
    "symlink-outside-relative": Bad(
        _with(link_member("package/evil", "../../escaped-dir")), UnsafeArchiveError, "outside"
    ),
    "symlink-outside-absolute": Bad(
        _with(link_member("package/evil", "/etc/passwd")), UnsafeArchiveError, "outside"
    ),
    # the classic: a link to a folder outside, then a file written "into" the link
    "symlink-then-write-through": Bad(
        _with(
            link_member("package/evil", "../../escaped-dir"),
            file_member("package/evil/escaped.txt", b"pwned"),
        ),
        UnsafeArchiveError,
        "outside",
    ),
    "hardlink-outside-relative": Bad(
        _with(link_member("package/hard", "../escaped.txt", tarfile.LNKTYPE)),
        UnsafeArchiveError,
        "outside",
    ),
    "hardlink-outside-absolute": Bad(
        _with(link_member("package/hard", "/etc/passwd", tarfile.LNKTYPE)),
        UnsafeArchiveError,
        "outside",
    ),
    "fifo": Bad(
        _with(special_member("package/fifo", tarfile.FIFOTYPE)), UnsafeArchiveError, "FIFO"
    ),
    "char-device": Bad(
        _with(special_member("package/null", tarfile.CHRTYPE)), UnsafeArchiveError, "special file"
    ),
    "block-device": Bad(
        _with(special_member("package/disk", tarfile.BLKTYPE)), UnsafeArchiveError, "special file"
    ),
    "bomb": Bad(_bomb, UnsafeArchiveError, "more than 1 MiB"),
    "too-many-members": Bad(_many, UnsafeArchiveError, "more than 5 members"),
    "corrupt": Bad(_corrupt, PackageError, "not a readable package archive"),
    "gzip-not-tar": Bad(_gzip_not_tar, PackageError, "not a readable package archive"),
    "empty-gzip": Bad(_empty_gzip, PackageError, "not a readable package archive"),
    "truncated": Bad(_truncated, PackageError, "truncated"),
    "no-package-json": Bad(_no_manifest, PackageError, "no package/package.json"),
}


@pytest.fixture(params=sorted(CASES))
def bad(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Bad]:
    case = CASES[request.param]
    if request.param == "bomb":
        monkeypatch.setenv("IGTOOLS_MAX_UNPACKED_MB", "1")
    if request.param == "too-many-members":
        monkeypatch.setenv("IGTOOLS_MAX_MEMBERS", "5")
    work = tmp_path / "work"
    work.mkdir()
    return case.build(work), case


def _assert_nothing_escaped(tmp_path: Path, before: set[str], cache: Path) -> None:
    assert tree(tmp_path, exclude=cache) == before
    assert not [p for p in tmp_path.rglob("*escaped*")]
    assert not [p for p in tmp_path.rglob("*") if p.is_symlink()]


# --------------------------------------------------------------------------- tests


def test_read_in_memory_refuses(bad: tuple[Path, Bad], tmp_path: Path) -> None:
    archive, case = bad
    before = tree(tmp_path)
    with pytest.raises(case.error) as info:
        read_package_archive(archive)
    message = str(info.value)
    assert message.startswith(f"{archive}: ")
    assert case.phrase in message
    assert tree(tmp_path) == before  # an in-memory read writes nothing at all


def test_install_refuses_and_leaves_nothing(bad: tuple[Path, Bad], tmp_path: Path) -> None:
    archive, case = bad
    cache = tmp_path / "cache"
    before = tree(tmp_path)
    with pytest.raises(case.error) as info:
        PackageCache(cache).install(archive, NAME, VERSION)
    message = str(info.value)
    assert str(archive) in message
    assert case.phrase in message
    _assert_nothing_escaped(tmp_path, before, cache)
    # no half-installed package, no leftover .igtools-* temporary folder
    assert sorted(p.name for p in cache.iterdir()) == []
    assert not PackageCache(cache).has(NAME, VERSION)


def test_cli_inspect_refuses_in_one_line(bad: tuple[Path, Bad], tmp_path: Path) -> None:
    archive, case = bad
    cache = tmp_path / "cache"
    before = tree(tmp_path)
    result = CliRunner().invoke(
        cli, ["--offline", "--cache-dir", str(cache), "inspect", str(archive)]
    )
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {archive}: ")
    assert case.phrase in lines[0]
    assert "Traceback" not in result.output
    _assert_nothing_escaped(tmp_path, before, cache)


def test_package_dir_install_refuses(bad: tuple[Path, Bad], tmp_path: Path) -> None:
    """The same archive found in a --package-dir is refused when installed from there."""
    archive, case = bad
    pdir = tmp_path / "pdir"
    pdir.mkdir()
    archive.rename(pdir / f"{NAME}-{VERSION}.tgz")
    archive = pdir / f"{NAME}-{VERSION}.tgz"
    cache = tmp_path / "cache"
    before = tree(tmp_path)
    loader = PackageLoader(Settings(cache_dir=cache, package_dirs=[pdir], offline=True))
    with pytest.raises(case.error) as info:
        loader.load(f"{NAME}#{VERSION}")
    assert str(archive) in str(info.value)
    _assert_nothing_escaped(tmp_path, before, cache)
    assert sorted(p.name for p in cache.iterdir()) == []


# --------------------------------------------------------------------------- specifics


def test_symlink_through_is_refused_before_any_write(tmp_path: Path) -> None:
    """The link is refused as soon as it is met: the file behind it is never written."""
    outside = tmp_path / "escaped-dir"
    outside.mkdir()
    archive = CASES["symlink-then-write-through"].build(tmp_path)
    with pytest.raises(UnsafeArchiveError):
        PackageCache(tmp_path / "cache").install(archive, NAME, VERSION)
    assert list(outside.iterdir()) == []


def test_bomb_refused_before_unpacking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The size check reads the headers: the 3 MiB member is never written, even in part."""
    monkeypatch.setenv("IGTOOLS_MAX_UNPACKED_MB", "1")
    archive = _bomb(tmp_path)
    assert archive.stat().st_size < 64 * 1024  # genuinely a bomb: tiny on disk
    cache = tmp_path / "cache"
    with pytest.raises(UnsafeArchiveError, match="IGTOOLS_MAX_UNPACKED_MB"):
        PackageCache(cache).install(archive, NAME, VERSION)
    assert [p for p in cache.rglob("*")] == []


def test_limits_can_be_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The limits are limits, not bans: raised, the same archives are accepted."""
    monkeypatch.setenv("IGTOOLS_MAX_UNPACKED_MB", "8")
    monkeypatch.setenv("IGTOOLS_MAX_MEMBERS", "100")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    bomb = _bomb(tmp_path / "a")
    many = _many(tmp_path / "b")
    assert [e.path for e in read_package_archive(bomb).entries] == ["package/CodeSystem-cs.json"]
    assert len(read_package_archive(many).entries) == 11
    folder = PackageCache(tmp_path / "cache").install(bomb, NAME, VERSION)
    assert (folder / "package" / "zeros.bin").stat().st_size == 3 << 20


def test_bad_limit_variable_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IGTOOLS_MAX_UNPACKED_MB", "lots")
    archive = write_tgz(tmp_path / "ok.tgz", valid_members())
    with pytest.raises(PackageError, match="IGTOOLS_MAX_UNPACKED_MB must be an integer"):
        read_package_archive(archive)


def _inside_links(tmp: Path) -> Path:
    return write_tgz(
        tmp / f"{NAME}-{VERSION}.tgz",
        [
            *valid_members(),
            link_member("package/alias.json", "CodeSystem-cs.json"),
            link_member("package/example/up.json", "../CodeSystem-cs.json"),
            link_member("package/hard.json", "package/CodeSystem-cs.json", tarfile.LNKTYPE),
        ],
    )


SKIPPED = ["package/alias.json", "package/example/up.json", "package/hard.json"]


def test_links_inside_are_skipped_and_noted_in_memory(tmp_path: Path) -> None:
    pkg = read_package_archive(_inside_links(tmp_path))
    assert [e.path for e in pkg.entries] == ["package/CodeSystem-cs.json"]
    assert pkg.notes == [f"skipped link {name}" for name in SKIPPED]


def test_links_inside_are_skipped_and_noted_on_install(tmp_path: Path) -> None:
    cache = PackageCache(tmp_path / "cache")
    report = ArchiveReport()
    folder = cache.install(_inside_links(tmp_path), NAME, VERSION, report=report)
    assert report.skipped_links == SKIPPED
    # what the archive held, and the index the cache writes for a package without one
    assert tree(folder) == {
        "package",
        "package/package.json",
        "package/CodeSystem-cs.json",
        "package/.index.json",
    }
    assert sorted(p.name for p in cache.root.iterdir()) == [f"{NAME}#{VERSION}"]


def test_links_inside_are_noted_from_a_package_dir(tmp_path: Path) -> None:
    pdir = tmp_path / "pdir"
    pdir.mkdir()
    _inside_links(pdir)
    loader = PackageLoader(
        Settings(cache_dir=tmp_path / "cache", package_dirs=[pdir], offline=True)
    )
    pset = loader.load(f"{NAME}#{VERSION}")
    assert pset.root.origin == "package-dir"
    assert pset.root.notes == [f"skipped link {name}" for name in SKIPPED]


def test_cli_notes_inside_links_and_succeeds(tmp_path: Path) -> None:
    archive = _inside_links(tmp_path)
    result = CliRunner().invoke(
        cli, ["--offline", "--cache-dir", str(tmp_path / "c"), "inspect", "--json", str(archive)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["notes"] == [f"skipped link {name}" for name in SKIPPED]
    assert summary["counts"]["code_systems"] == 1


def test_install_refuses_a_package_under_another_name(tmp_path: Path) -> None:
    """An archive cannot be installed as a package it is not (cache poisoning)."""
    archive = write_tgz(tmp_path / "x.tgz", valid_members())
    cache = tmp_path / "cache"
    with pytest.raises(
        PackageError, match=rf"contains {NAME}#{VERSION}, expected hl7\.fhir\.r4\.core#4\.0\.1"
    ):
        PackageCache(cache).install(archive, "hl7.fhir.r4.core", "4.0.1")
    assert list(cache.iterdir()) == []


def test_install_of_the_fixture_succeeds(tmp_path: Path) -> None:
    """The control case: the genuine fixture package installs, complete."""
    archive = fixture_tgz(tmp_path / "mini.tgz")
    cache = PackageCache(tmp_path / "cache")
    folder = cache.install(archive, NAME, VERSION)
    assert folder == tmp_path / "cache" / f"{NAME}#{VERSION}"
    expected = {p.relative_to(MINI).as_posix() for p in (MINI / "package").rglob("*")}
    # the cache writes an index for a package that has none (later reads stay lazy)
    assert tree(folder) == expected | {"package", "package/.index.json"}
    assert cache.versions(NAME) == [VERSION]
    assert [p.name for p in cache.root.iterdir()] == [f"{NAME}#{VERSION}"]
    # the index names every resource of package/ with its type, id and url, and a read
    # of the cached package takes them from it without parsing the files
    import json

    from igtools.packages.package import read_package_folder

    index = json.loads((folder / "package" / ".index.json").read_text("utf-8"))
    listed = {f["filename"]: f for f in index["files"]}
    on_disk = {p.name for p in (folder / "package").glob("*.json")} - {"package.json"}
    assert set(listed) == on_disk - {".index.json"}
    sd = listed["StructureDefinition-mini-patient.json"]
    assert sd["resourceType"] == "StructureDefinition" and sd["url"].endswith("mini-patient")
    pkg = read_package_folder(folder)
    entry = next(e for e in pkg.entries if e.path.endswith("StructureDefinition-mini-patient.json"))
    assert entry._data is None  # not parsed until used
    assert entry.data["url"] == sd["url"]


def test_truncated_fixture_really_is_truncated(tmp_path: Path) -> None:
    """Guard for the 'truncated' case: the whole archive reads, its first half does not."""
    whole = fixture_tgz(tmp_path / "whole.tgz")
    assert len(read_package_archive(whole).entries) == 10
    half = tmp_path / "half.tgz"
    half.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(PackageError, match="truncated"):
        read_package_archive(half)
