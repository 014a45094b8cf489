"""The OpenAPI document's shared schemas: problem details and the canonical event.

Routes refer to `#/components/schemas/Problem` for every error response and the publish route
to `#/components/schemas/CanonicalEvent` for its body; FastAPI only adds the schemas of models
a route names itself, so these are added to the generated document here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic.json_schema import models_json_schema

from hub.api.problems import Problem
from hub.domain.canonical_event import CanonicalEvent


def contract_schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(Problem, "serialization"), (CanonicalEvent, "validation")],
        ref_template="#/components/schemas/{model}",
    )
    return dict(top["$defs"])


def document_contract(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in contract_schemas().items():
                if name in schemas and schemas[name] != schema:
                    raise ValueError(f"{name}: two different schemas share this name")
                schemas[name] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
