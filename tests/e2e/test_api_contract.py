"""The API's contract over real HTTP: schemathesis against the running system (every
operation of its OpenAPI document, valid and invalid inputs: no server error, every answer as
the document says), and the body size limit as uvicorn serves it (the rate limit is tested in
process, tests/unit/test_api_limits.py).

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
from problem_details import problem
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from system import FAST_SPEEDUP, RunningSystem, running_system

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


@pytest.fixture(scope="module")
async def fast_system(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningSystem]:
    """A system of its own: the fuzzer's valid cases change stock and orders at random, which
    would spoil the exact figures other modules check on the shared one."""
    var_dir = tmp_path_factory.mktemp("doms-var-fuzz")
    async with running_system(var_dir, speedup=FAST_SPEEDUP) as system:
        yield system


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


def fuzz(api_url: str, headers: dict[str, str]) -> FuzzRun:
    """Every operation, with `headers` (the credentials) on every request."""
    schema = schemathesis.openapi.from_url(
        f"{api_url}/openapi.json", headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
    )
    run = FuzzRun()
    operations = {result.ok().label: result.ok() for result in schema.get_all_operations()}
    placing = operations["POST /orders"]
    existing = run.attempt("placing a real order", lambda: _place(placing, headers))
    for operation in operations.values():
        run.operations += 1
        has_input = any(True for _ in operation.iter_parameters()) or bool(operation.body)
        for mode in MODES if has_input else (GenerationMode.POSITIVE,):  # no input to spoil
            test = _cases_of(operation.as_strategy(generation_mode=mode), api_url, headers, run)
            run.attempt(f"{operation.label} ({mode.value})", test)
        ids = {parameter.name for parameter in operation.path_parameters}
        if existing and ids and ids <= existing.keys():
            fixed = {name: existing[name] for name in ids}
            test = _cases_of(operation.as_strategy(path_parameters=fixed), api_url, headers, run)
            run.attempt(f"{operation.label} (positive, {fixed})", test)
    return run


def _place(operation: schemathesis.APIOperation, headers: dict[str, str]) -> dict[str, str]:
    """Place ORDER, checked like any case; the ids of the order and of its first parcel."""
    case = operation.Case(body=ORDER, media_type="application/json")
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    assert response.status_code == 201, response.text
    order = response.json()
    shipment = order["allocations"][0]["shipment_id"]
    return {"order_id": order["order_id"], "shipment_id": shipment}


def _cases_of(
    strategy: Any, api_url: str, headers: dict[str, str], run: FuzzRun
) -> Callable[[], None]:
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
            headers=headers,
            checks=CHECKS,
            timeout=REQUEST_TIMEOUT_SECONDS,
        )

    return test


async def test_every_operation_answers_as_its_openapi_document_says(
    fast_system: RunningSystem,
) -> None:
    # As an operator, so that every operation is allowed (the roles have tests of their own).
    operator = {"Authorization": f"Bearer {fast_system.keys.operator}"}
    run = await asyncio.to_thread(fuzz, fast_system.api_url, operator)
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
