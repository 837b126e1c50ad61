"""``/openapi.json`` names the insights answers' models with exactly the Dumpus field names, and
the routes' live answers (the status poll's hand-built dict included) have exactly those keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from tests.support.dumpus_contract import DUMPUS_FIELDS, OPTIONAL
from tests.support.insights_server import bearer, insights_client, new_upn

from cordvault.core.settings import Settings
from cordvault.insights import api_models as m
from cordvault.insights.jobs import service
from cordvault.insights.jobs.package_links import package_id_for

# (path, method, status) -> the model its JSON answer is documented with.
ROUTES: list[tuple[str, str, str, str]] = [
    ("/process", "post", "200", "ProcessOut"),
    ("/process", "post", "400", "ProcessOut"),
    ("/process", "post", "413", "ProcessOut"),
    ("/process/upload", "post", "200", "ProcessOut"),
    ("/process/{package_id}/status", "get", "200", "StatusOut"),
    ("/process/{package_id}/status", "get", "401", "StatusOut"),
    ("/process/{package_id}/blob", "get", "200", "BlobOut"),
    ("/process/{package_id}", "delete", "200", "DeleteOut"),
    ("/process/{package_id}/user/{user_id}", "get", "200", "UserLookupOut"),
    ("/widget/{guild_id}", "get", "200", "WidgetOut"),
    ("/health", "get", "200", "HealthOut"),
    ("/admin/process/{package_id}/upgrade", "post", "200", "UpgradeOut"),
]


@pytest.fixture
def client(make_settings: Callable[..., Settings]) -> TestClient:
    return insights_client(make_settings())


@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def test_models_carry_the_dumpus_field_names(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    for name, fields in DUMPUS_FIELDS.items():
        schema = schemas[name]
        assert list(schema["properties"]) == fields, name
        assert set(schema.get("required", [])) == set(fields) - OPTIONAL.get(name, set()), name
        model: type[BaseModel] = getattr(m, name)
        assert list(model.model_fields) == fields, name
    position = schemas["StatusOut"]["properties"]["processingQueuePosition"]
    assert position["$ref"] == "#/components/schemas/QueuePositionOut"


@pytest.mark.parametrize(("path", "method", "status", "model"), ROUTES)
def test_routes_answer_with_their_model(
    openapi: dict[str, Any], path: str, method: str, status: str, model: str
) -> None:
    response = openapi["paths"][path][method]["responses"][status]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": f"#/components/schemas/{model}"
    }


def test_status_dicts_are_the_status_model() -> None:
    """The hot path builds its answer by hand: its keys must stay the model's, in order."""
    base = service.base_status()
    assert list(base) == DUMPUS_FIELDS["StatusOut"]
    optional = OPTIONAL["QueuePositionOut"]
    required = [f for f in DUMPUS_FIELDS["QueuePositionOut"] if f not in optional]
    assert list(base["processingQueuePosition"]) == required
    m.StatusOut.model_validate(base)


def test_live_answers_validate_against_their_models(client: TestClient) -> None:
    upn = new_upn()
    pid = package_id_for(upn)
    link = f"https://click.discord.com/ls/click?upn={upn}"

    accepted = client.post("/process", json={"package_link": link})
    assert list(accepted.json()) == ["isAccepted", "packageId", "errorMessageCode"]
    m.ProcessOut.model_validate(accepted.json())
    refused = client.post("/process", content=b"{", headers={"content-type": "application/json"})
    assert refused.status_code == 400
    assert list(refused.json()) == ["isAccepted", "packageId", "errorMessageCode", "message"]

    status = client.get(f"/process/{pid}/status", headers=bearer(upn)).json()
    assert list(status) == DUMPUS_FIELDS["StatusOut"]
    assert list(status["processingQueuePosition"]) == DUMPUS_FIELDS["QueuePositionOut"]
    m.StatusOut.model_validate(status)
    unauthorized = client.get(f"/process/{pid}/status")
    assert unauthorized.status_code == 401
    m.StatusOut.model_validate(unauthorized.json())

    demo = client.get("/process/demo/blob").json()
    assert list(demo) == ["url", "iv", "ttl"]
    assert demo["iv"] is None
    health = client.get("/health").json()
    assert list(health) == DUMPUS_FIELDS["HealthOut"]
    admin = {"Authorization": "Bearer admin-token-for-tests-0123456789"}
    upgraded = client.post(f"/admin/process/{pid}/upgrade", headers=admin).json()
    assert upgraded == {"packageId": pid, "isUpgraded": True}
    deleted = client.delete(f"/process/{pid}", headers=bearer(upn)).json()
    assert list(deleted) == DUMPUS_FIELDS["DeleteOut"]
    assert deleted == {"isDeleted": True, "errorMessageCode": None}
