"""The OpenAPI document against the live server, by schemathesis: every answer's status is one the
document lists, and every answer's body and content type are the ones it describes.

Bounded: a few examples per operation and no shrinking, so the whole run stays well under 30 s.
"""

from __future__ import annotations

import pytest
import schemathesis
from helpers import drop, served_engine, settled
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chute.engine.server.openapi import document

schema = schemathesis.openapi.from_dict(document())
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    engine = served_engine(tmp_path_factory.mktemp("contract") / "root")
    # Rows of every kind the answers carry: a done file, a failed one, an alert.
    drop(engine, "good.txt", b"fine\n")
    drop(engine, "bad.json", b"{")
    settled(engine, "good.txt")
    settled(engine, "bad.json")
    engine.journal.alerts.add("files_failed", "warning", "1 file failed", "bad.json: invalid JSON")
    yield engine.server
    engine.stop()


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_server_does_what_its_document_says(case, live):
    wait = (case.query or {}).get("wait")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > 0.05:
        # A long poll may wait its full `wait` for news; the contract is the same at 50 ms.
        case.query["wait"] = 0.05
    case.call_and_validate(
        base_url=live.url, headers={"Authorization": f"Bearer {live.token}"}, checks=CHECKS, timeout=10
    )


def test_every_success_has_a_schema_and_every_bound_is_stated():
    doc = document("http://127.0.0.1:1")
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert len(ok) == 1, (method, path)
            content = op["responses"][ok[0]]["content"]
            assert content and all("schema" in c for c in content.values()), (method, path)
            if op.get("security") != []:
                assert "401" in op["responses"], (method, path)
            for param in op["parameters"]:
                schema = param["schema"]
                assert "enum" in schema or "maximum" in schema or "maxLength" in schema, (method, path, param)
    files = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/files"]["get"]["parameters"]}
    assert set(files["state"]["enum"]) == {
        "queued",
        "retrying",
        "placing",
        "dispatched",
        "processing",
        "done",
        "failed",
        "duplicate",
        "vanished",
    }
    retry = doc["paths"]["/api/v1/files/retry"]["post"]["requestBody"]
    assert retry["required"] and all(
        s["additionalProperties"] is False for s in retry["content"]["application/json"]["schema"]["oneOf"]
    )
    assert doc["servers"] == [{"url": "http://127.0.0.1:1"}]
