"""The running API against its own OpenAPI document (docs/openapi.json), with schemathesis.

Every operation is called with generated requests, valid and not, by a caller the route is for
(an agency system publishes; a DPO asks the audit and subject access questions; a practitioner
the rest), on a real hub (SQLite) holding a case. Each answer must not be a server error, and
its status, content type and body must be what the document says: a documented status, JSON
of the documented model, `application/problem+json` for every error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.tokens import issue_dev_token
from hub.api.app import create_app
from hub.bootstrap import Hub, bootstrap
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.factories import register_agencies
from tests.integration.test_disclosure import CASE

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def contract_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    settings = HubSettings(
        data_dir=tmp_path_factory.mktemp("contract") / "hub",
        directory=SAMPLE_DIRECTORY_PATH,
        dev_tokens=True,  # development tokens are off unless switched on
    )
    hub = bootstrap(settings)
    register_agencies(hub)
    for agency, values in CASE.items():
        hub.ingest.ingest(
            [InboundMessage(f"inbox:{agency}/case", i + 1, v, agency) for i, v in enumerate(values)]
        )
    yield hub
    hub.close()


@pytest.fixture(scope="module")
def contract_app(contract_hub: Hub) -> FastAPI:
    return create_app(contract_hub, contract_hub.token_verifier())


def caller_for(path: str) -> str:
    """Whom each route is for, so generated requests reach past the 403 into the route."""
    if path == "/api/v1/events":
        return "agency:shire-county-council"
    if path.startswith(("/api/v1/audit/", "/api/v1/sar")):
        return "dpo-0001"
    if path.startswith("/api/v1/notices"):
        return "dsl-100001"
    return "lcpp-0001"


# The published document (a test in tests/integration/test_api.py holds it equal to the app's).
# Loaded here rather than from a fixture: schemathesis's fixture loader does not run under
# pytest 9; the app each case is sent to comes from the fixture instead.
PUBLISHED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_dict(json.loads(PUBLISHED.read_text()))


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_keeps_the_published_contract(
    case: Any, contract_hub: Hub, contract_app: FastAPI
) -> None:
    case.operation.schema.app = case.operation.app = contract_app  # in process, over ASGI
    token = issue_dev_token(contract_hub.token_key, caller_for(case.path))
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def test_the_contract_covers_every_api_route(contract_app: FastAPI) -> None:
    """Every /api/v1 route is in the document with a stable operation id, a tag, the bearer
    scheme and problem details for its errors."""
    document = contract_app.openapi()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    operations = [
        (path, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/v1/")
        for operation in item.values()
    ]
    assert len(operations) == 27
    ids = [operation["operationId"] for _, operation in operations]
    assert len(set(ids)) == len(ids) and all(i.islower() and "/" not in i for i in ids)
    for path, operation in operations:
        assert operation["tags"] and operation["security"] == [{"bearer": []}], path
        assert not any(
            p["name"].lower() == "authorization" for p in operation.get("parameters", [])
        )
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert list(response["content"]) == ["application/problem+json"], (path, status)
        assert {"401", "403"} <= set(operation["responses"]), path
        if "requestBody" in operation:
            assert {"413", "422"} <= set(operation["responses"]), path
