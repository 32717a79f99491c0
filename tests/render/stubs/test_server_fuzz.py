"""Fuzzing the reference server (Hypothesis): no 5xx, no traceback, clear 4xx outcomes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from igtools.ir import build_ir
from igtools.packages import PackageLoader, Settings
from igtools.project import load_project
from igtools.render.stubs.plan import parse_overlays
from igtools.render.stubs.server import make_app
from tests.conftest import REPO, shared_path

NAMES = [
    "start",
    "status",
    "schedule",
    "schedule.actor:Practitioner.identifier",
    "_include",
    "_include:iterate",
    "_revinclude",
    "_count",
    "_has:Slot:schedule:start",
    "identifier",
    "actor:Location.organization.identifier",
    "_id",
    "_sort",
    "unknown",
    "start:missing",
]
NASTY = [
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "ge2021-02-30",
    "xx2021",
    "1e999",
    "9" * 50,
    "\x00",
    "%00",
    "|",
    "||",
    ",,,",
    "urn:oid:1.2|",
    "Slot:*",
    "-1",
    "2021-13-01T25:61:00Z",
    "a" * 3000,
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    tgz = shared_path("fhir-packages", "ans.fhir.fr.sas-1.2.0.tgz")
    pset = PackageLoader(Settings(cache_dir=tmp_path_factory.mktemp("c"), offline=True)).load(
        str(tgz)
    )
    project = load_project(REPO)
    servers = [
        "SAS-GestionnaireAgenda-PsIndiv",
        "SAS-GestionnaireAgenda-SOS",
        "SAS-GestionnaireStructure",
    ]
    app, _, _ = make_app(build_ir(pset), servers, parse_overlays(project.stubs_overlay, "cfg"))
    return TestClient(app, raise_server_exceptions=False)


def _check(resp: Any) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:500])
    assert "Traceback" not in resp.text
    if resp.status_code >= 400:
        assert resp.json()["resourceType"] == "OperationOutcome"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rtype=st.sampled_from(["Slot", "Schedule", "Practitioner", "Patient", "Slot/_search"]),
    pairs=st.lists(
        st.tuples(st.sampled_from(NAMES), st.one_of(st.sampled_from(NASTY), st.text(max_size=40))),
        max_size=6,
    ),
)
def test_search_never_5xx(client: TestClient, rtype: str, pairs: list[tuple[str, str]]) -> None:
    if rtype.endswith("_search"):
        resp = client.post(f"/{rtype}", data=dict(pairs))
    else:
        resp = client.get(f"/{rtype}", params=pairs)
    _check(resp)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        st.text(max_size=200),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
            lambda children: st.one_of(
                st.lists(children, max_size=3),
                st.dictionaries(
                    st.sampled_from(
                        ["resourceType", "id", "name", "active", "identifier", "meta", "x"]
                    ),
                    children,
                    max_size=4,
                ),
            ),
            max_leaves=10,
        ).map(lambda v: json.dumps({"resourceType": "Practitioner", "extra": v})),
    ),
    ctype=st.sampled_from(
        ["application/fhir+json", "application/json+fhir", "text/plain", "application/xml"]
    ),
)
def test_create_never_5xx(client: TestClient, body: str, ctype: str) -> None:
    _check(client.post("/Practitioner", content=body, headers={"Content-Type": ctype}))
    _check(
        client.put("/Practitioner?identifier=a%7Cb", content=body, headers={"Content-Type": ctype})
    )


def test_oversized_body_and_huge_count(client: TestClient) -> None:
    resp = client.post(
        "/Practitioner",
        content="x" * (6 * 1024 * 1024),
        headers={"Content-Type": "application/fhir+json"},
    )
    assert resp.status_code == 413
    assert resp.json()["resourceType"] == "OperationOutcome"
    resp = client.get("/Slot", params=[("_count", "100000000")])
    assert resp.status_code == 400


# bodies in odd encodings and shapes: each a 4xx OperationOutcome (or a success), never a 5xx
_REGUL = '{"resourceType": "Practitioner", "identifier": [{"value": "é"}], "active": true}'
_ENCODED = st.one_of(
    st.sampled_from(
        [
            _REGUL.encode("utf-8"),
            b"\xef\xbb\xbf" + _REGUL.encode("utf-8"),  # UTF-8 BOM
            _REGUL.encode("utf-16"),  # with its BOM
            _REGUL.encode("utf-16-le"),
            _REGUL.encode("utf-32"),
            _REGUL.encode("latin-1"),
            b'{"resourceType": "Practitioner", "id": "\xff\xfe"}',
            b'{"resourceType": "Practitioner", "active": ' + b"9" * 5000 + b"}",
            b'{"resourceType": "Practitioner", "active": 1e99999}',
            b'{"resourceType": "Practitioner", "active": -Infinity}',
            b'{"resourceType": "Practitioner", "id": "\\ud800"}',
            b"\x00" * 64,
            b"",
        ]
    ),
    st.binary(max_size=300),
    # deep nesting of arrays, objects or both, past any recursion limit
    st.tuples(
        st.integers(min_value=50, max_value=200_000), st.sampled_from(["[", '{"a":', "[{"])
    ).map(lambda t: (t[1] * t[0]).encode()),
    st.text(max_size=100).map(
        lambda t: json.dumps({"resourceType": "Practitioner", "id": t}).encode("utf-8")
    ),
)
_CTYPES = st.sampled_from(
    [
        "application/fhir+json",
        "application/fhir+json; charset=utf-8",
        "application/fhir+json; charset=UTF-16",
        "application/fhir+json; charset=latin-1",
        "application/fhir+json;;;charset",
        "application/json",
        "application/json-patch+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/html",
        "*/*",
        "",
        "\x7f;=;",
    ]
)
# every route of the engine, declared or not (405), served type or not (404)
_ROUTES = st.sampled_from(
    [
        ("POST", "/Practitioner"),
        ("PUT", "/Practitioner/abc"),
        ("PUT", "/Practitioner?identifier=urn:oid:1.2.250.1.71.4.2.1%7C123"),
        ("PUT", "/Practitioner/" + "x" * 300),
        ("PATCH", "/Practitioner/abc"),
        ("POST", "/Slot/_search"),
        ("POST", "/Slot/_search?status=free"),
        ("POST", "/Patient"),
        ("DELETE", "/Practitioner/abc"),
        ("POST", "/Practitioner/_history"),
        ("POST", "/no/such/route/at/all"),
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(route=_ROUTES, body=_ENCODED, ctype=_CTYPES)
def test_bodies_never_5xx(
    client: TestClient, route: tuple[str, str], body: bytes, ctype: str
) -> None:
    method, path = route
    headers = {"Content-Type": ctype} if ctype else {}
    _check(client.request(method, path, content=body, headers=headers))


_QUERY_BYTES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"status=%ff%fe",
            b"status=%",
            b"status=%zz",
            b"%ff=free",
            b"start=ge" + b"9" * 3000,
            b"_count=" + b"9" * 400,
            b"_count=1e999",
            b"&&&===&&&",
            b"_include=" + b"Slot:schedule," * 500,
            b"status=free&" * 400,
            b"schedule.actor:Practitioner.identifier=" + b"a." * 1000,
        ]
    ),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(
        [
            "/Slot",
            "/Schedule",
            "/Practitioner",
            "/Practitioner/_history",
            "/Practitioner/abc/_history",
            "/Practitioner/abc/_history/1",
            "/Slot/ExampleSlotPSIndiv1",
            "/metadata",
            "/Unknown",
            "/Slot/a/b/c/d",
        ]
    ),
    query=_QUERY_BYTES,
)
def test_queries_never_5xx(client: TestClient, path: str, query: bytes) -> None:
    """Raw query strings (invalid percent-encoding, not UTF-8, huge values, many
    parameters) on every GET route."""
    from urllib.parse import quote_from_bytes

    # keep the bytes the client would otherwise re-encode: bytes outside ASCII as %XX
    raw = quote_from_bytes(query, safe="=&%:|,._-+")
    _check(client.get(f"{path}?{raw}"))


@pytest.mark.parametrize(
    ("method", "path", "body", "ctype", "status"),
    [
        ("POST", "/Practitioner", "[" * 100_000, "application/fhir+json", 400),
        ("POST", "/Practitioner", '{"a":' * 100_000, "application/fhir+json", 400),
        ("PUT", "/Practitioner/abc", "[{" * 50_000, "application/fhir+json", 400),
        ("POST", "/Practitioner", '{"resourceType":"Practitioner","x":1e400}', "", 400),
        ("POST", "/Practitioner", _REGUL.encode("utf-16"), "application/fhir+json", 400),
        ("POST", "/Practitioner", _REGUL, "application/fhir+json; charset=utf-16", 415),
        ("POST", "/Practitioner", _REGUL.encode("latin-1"), "application/fhir+json", 400),
        ("POST", "/Practitioner", _REGUL, "text/xml", 415),
        ("POST", "/Slot/_search", "status=%ff", "application/x-www-form-urlencoded", 400),
        ("POST", "/Slot/_search", "status=free", "application/json", 415),
        ("GET", "/Slot?status=%ff%fe", None, "", 400),
        ("GET", "/Slot?status=" + "a" * 60_000, None, "", 400),
        ("GET", "/Slot?" + "status=free&" * 5_000, None, "", 400),
        ("PUT", "/Practitioner/" + "x" * 65, _REGUL, "application/fhir+json", 400),
        ("PUT", "/Practitioner/a%20b", _REGUL, "application/fhir+json", 400),
        ("GET", "/Slot/" + "x" * 60_000, None, "", 404),
        ("GET", "/no/such/route/at/all", None, "", 404),
    ],
)
def test_odd_requests_are_4xx_outcomes(
    client: TestClient, method: str, path: str, body: Any, ctype: str, status: int
) -> None:
    headers = {"Content-Type": ctype} if ctype else {}
    resp = client.request(method, path, content=body, headers=headers)
    assert resp.status_code == status, resp.text[:500]
    assert resp.json()["resourceType"] == "OperationOutcome"
    assert len(resp.text) < 20_000  # the offending value is not echoed whole


def test_huge_declared_length_is_refused_before_reading(client: TestClient) -> None:
    resp = client.post(
        "/Practitioner",
        content=b"{}",
        headers={"Content-Type": "application/fhir+json", "Content-Length": str(10**12)},
    )
    assert resp.status_code == 413
    assert resp.json()["resourceType"] == "OperationOutcome"


def test_lone_surrogate_quoted_in_an_error(client: TestClient) -> None:
    """A ``\\ud800`` escape the error message quotes (not encodable as UTF-8) is answered
    as a 4xx OperationOutcome with the character escaped, not a 500 (found by the fuzzer)."""
    resp = client.post(
        "/Practitioner",
        content=b'{"resourceType": "Practitioner", "id": "\\ud800"}',
        headers={"Content-Type": "application/fhir+json"},
    )
    assert 400 <= resp.status_code < 500, resp.text
    assert "\\ud800" in resp.text and resp.json()["resourceType"] == "OperationOutcome"
