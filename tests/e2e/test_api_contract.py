"""The API's contract over real HTTP: schemathesis against the running system (every
operation of its OpenAPI document, valid and invalid inputs: no server error, every answer as
the document says), and the body size and rate limits as uvicorn serves them.

The fuzzing is derandomized (the same cases each run) and bounded: CASES_PER_MODE valid and
as many invalid cases per operation, a few hundred requests in all.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from system import RunningSystem, problem, running_system

# What every request sends: the one place for credentials once the API asks for them.
REQUEST_HEADERS: dict[str, str] = {}
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
CASES_PER_MODE = 25
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
REQUEST_TIMEOUT_SECONDS = 15
JSON = {"content-type": "application/json"}


# A real order, so that operations on an order also run on one that exists (random ids 404).
ORDER = {
    "customer_id": "c-fuzz",
    "order_type": "standard",
    "destination": {"country": "US", "postal_code": "10001", "lat": 40.75, "lon": -73.99},
    "lines": [{"sku": "SKU-0001", "quantity": 1}],
}


@dataclass
class FuzzRun:
    cases: int = 0
    operations: int = 0
    failures: list[str] = field(default_factory=list)

    def attempt(self, label: str, test: Callable[[], Any]) -> Any:
        try:
            return test()
        except (Exception, BaseExceptionGroup) as error:  # shrunk to one failing case
            self.failures.append(f"{label}: {error}")
            return None


def fuzz(api_url: str) -> FuzzRun:
    schema = schemathesis.openapi.from_url(
        f"{api_url}/openapi.json", headers=REQUEST_HEADERS, timeout=REQUEST_TIMEOUT_SECONDS
    )
    run = FuzzRun()
    operations = {result.ok().label: result.ok() for result in schema.get_all_operations()}
    existing = run.attempt("placing a real order", lambda: _place(operations["POST /orders"]))
    for operation in operations.values():
        run.operations += 1
        has_input = any(True for _ in operation.iter_parameters()) or bool(operation.body)
        for mode in MODES if has_input else (GenerationMode.POSITIVE,):  # no input to spoil
            test = _cases_of(operation.as_strategy(generation_mode=mode), api_url, run)
            run.attempt(f"{operation.label} ({mode.value})", test)
        ids = {parameter.name for parameter in operation.path_parameters}
        if existing and ids and ids <= existing.keys():
            fixed = {name: existing[name] for name in ids}
            test = _cases_of(operation.as_strategy(path_parameters=fixed), api_url, run)
            run.attempt(f"{operation.label} (positive, {fixed})", test)
    return run


def _place(operation: schemathesis.APIOperation) -> dict[str, str]:
    """Place ORDER, checked like any case; the ids of the order and of its first parcel."""
    case = operation.Case(body=ORDER, media_type="application/json")
    response = case.call_and_validate(headers=REQUEST_HEADERS, checks=CHECKS)
    assert response.status_code == 201, response.text
    order = response.json()
    shipment = order["allocations"][0]["shipment_id"]
    return {"order_id": order["order_id"], "shipment_id": shipment}


def _cases_of(strategy: Any, api_url: str, run: FuzzRun) -> Callable[[], None]:
    @settings(
        max_examples=CASES_PER_MODE,
        derandomize=True,  # the same cases every run, as CI needs
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def test(case: schemathesis.Case) -> None:
        run.cases += 1
        case.call_and_validate(
            base_url=api_url,
            headers=REQUEST_HEADERS,
            checks=CHECKS,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )

    return test


async def test_every_operation_answers_as_its_openapi_document_says(
    fast_system: RunningSystem,
) -> None:
    run = await asyncio.to_thread(fuzz, fast_system.api_url)
    print(f"schemathesis: {run.cases} cases over {run.operations} operations")
    assert run.operations >= 16
    assert run.cases >= run.operations * len(MODES) * 5  # every operation was exercised
    assert not run.failures, "\n\n".join(run.failures)


# --- the limits, as uvicorn serves them --------------------------------------------------------


async def test_a_body_over_the_limit_is_answered_413_before_it_is_read(
    fast_system: RunningSystem,
) -> None:
    async with httpx.AsyncClient(base_url=fast_system.api_url, timeout=15) as http:
        declared = await http.post("/orders", content=b"{" * 70_000, headers=JSON)

        async def chunked() -> AsyncIterator[bytes]:
            for _ in range(1000):  # 1 MB offered, no Content-Length
                yield b" " * 1000

        streamed = await http.post("/orders", content=chunked(), headers=JSON)
        after = await http.get("/healthz")
    problem(declared, 413)
    problem(streamed, 413)
    assert after.status_code == 200  # the server is none the worse


@pytest.fixture(scope="module")
async def limited_system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    var_dir = tmp_path_factory.mktemp("doms-rate-limited")
    limits = {"DOMS_RATE_LIMIT_PER_SECOND": "0.1", "DOMS_RATE_LIMIT_BURST": "5"}
    async with running_system(var_dir, speedup=36_000, **limits) as system:
        yield system


async def test_a_client_over_its_rate_is_answered_429_and_others_are_not(
    limited_system: RunningSystem,
) -> None:
    async with httpx.AsyncClient(base_url=limited_system.api_url, timeout=15) as http:
        burst = [(await http.get("/orders")).status_code for _ in range(5)]
        refused = await http.get("/orders")
        probes = [(await http.get(path)).status_code for path in ("/healthz", "/readyz")]
        other = await http.get("/orders", headers={"Authorization": "Bearer doms_k_secret"})
    assert burst == [200] * 5
    problem(refused, 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 10  # a token every 10 s
    assert probes == [200, 200]
    assert other.status_code == 200  # another credential, another bucket
