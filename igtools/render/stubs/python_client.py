"""View of a client-mode API for the client templates."""

from __future__ import annotations

from dataclasses import dataclass

from igtools.render.models.python import fhir_class, snake
from igtools.render.stubs.plan import Api


@dataclass
class ClientResource:
    type: str
    snake: str
    interactions: list[str]
    params: list[str]
    conditional: bool
    model: str


@dataclass
class ClientView:
    api: Api
    package: str
    resources: list[ClientResource]
    model_imports: list[tuple[str, str]]


def client_view(api: Api) -> ClientView:
    imports: set[tuple[str, str]] = set()
    resources = []
    for r in api.resources:
        base = fhir_class(r.type) or ("fhir.resources.R4B.resource", "Resource")
        imports.add(base)
        resources.append(
            ClientResource(
                type=r.type,
                snake=snake(r.type),
                interactions=list(r.interactions),
                params=[p.code for p in r.params] + r.chains + [f"_has:{h}" for h in r.has],
                conditional=r.conditional_update is not None,
                model=base[1],
            )
        )
    return ClientView(api, f"{api.python_name}_client", resources, sorted(imports))
