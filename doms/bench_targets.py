"""The targets `doms bench system` judges its figures by (issue 17's, and the memory ones of
before), and the verdicts it prints and writes beside them."""

from __future__ import annotations

from typing import Any

from doms.bench_counts import OrderCounts
from doms.bench_load import RateFigures

TARGET_RATIO, MOONSHOT_RATIO = 1.0, 1.5  # end to end through HTTP, times the baseline
TARGET_API_CPU_MS, MOONSHOT_API_CPU_MS = 3.0, 1.5  # the API's CPU per accepted order
# The cores the stack uses when saturated, as a share of the machine's: 1.9 of 2. Below
# that, the stack waits on something other than the CPU.
TARGET_CORES_SHARE = 0.95
TARGET_RATE = 200.0
TARGET_P95_MS = 50.0
TARGET_RATE_SECONDS = 30.0  # the intake target holds for this long
TARGET_WORKER_MB = 300.0
TARGET_API_MB = 150.0


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def is_met(value: float, target: float, at_least: bool) -> bool:
    return value >= target if at_least else value <= target


def met_target(
    value: float | None, target: float, at_least: bool = False, moonshot: float | None = None
) -> dict[str, Any]:
    """A target for --json: the value, the target and whether it was met (None: not
    measured), and the moonshot's if there is one."""
    met = None if value is None else is_met(value, target, at_least)
    judged: dict[str, Any] = {"value": value, "target": target, "met": met}
    if moonshot is not None:
        reached = None if value is None else is_met(value, moonshot, at_least)
        judged |= {"moonshot": moonshot, "moonshot_met": reached}
    return judged


def judged(
    value: float, target: float, at_least: bool, unit: str = "", moonshot: float | None = None
) -> str:
    """E.g. "target >= 1: met; moonshot >= 1.5: NOT met"."""
    bound = ">=" if at_least else "<="
    text = f"target {bound} {target:g}{unit}: {verdict(is_met(value, target, at_least))}"
    if moonshot is not None:
        reached = verdict(is_met(value, moonshot, at_least))
        text += f"; moonshot {bound} {moonshot:g}{unit}: {reached}"
    return text


def ratio_text(ratio: float) -> str:
    judgement = judged(ratio, TARGET_RATIO, at_least=True, moonshot=MOONSHOT_RATIO)
    return f"{ratio:.2f} x baseline; {judgement}"


def api_cpu_text(ms: float) -> str:
    judgement = judged(
        ms, TARGET_API_CPU_MS, at_least=False, unit=" ms", moonshot=MOONSHOT_API_CPU_MS
    )
    return f"{ms:.2f} ms per accepted order; {judgement}"


def target_cores(cpu_count: int) -> float:
    return TARGET_CORES_SHARE * cpu_count


def cores_text(stack_cores: float, cpu_count: int) -> str:
    target = target_cores(cpu_count)
    met = verdict(stack_cores >= target)
    return f"{stack_cores:.2f} of {cpu_count} used, saturated; target >= {target:g}: {met}"


def intake_met(figures: RateFigures, counts: OrderCounts) -> bool:
    """p95 within the target, no errors, and every order accepted delivered (and every one
    answered 201 accepted)."""
    return (
        figures.latency.p95_ms <= TARGET_P95_MS
        and figures.errors == 0
        and counts.delivered == counts.accepted
        and counts.accepted >= figures.placed
    )


def intake_text(figures: RateFigures, counts: OrderCounts) -> str:
    """The intake target's verdict, saying how long the rate was measured for."""
    target = (
        f"p95 <= {TARGET_P95_MS:g} ms at {TARGET_RATE:g}/s for {TARGET_RATE_SECONDS:g} s, "
        "0 errors, every accepted order delivered"
    )
    undelivered = counts.accepted - counts.delivered
    measured = (
        f"p95 {figures.latency.p95_ms:.1f} ms, {figures.errors} errors, "
        f"{undelivered} of {counts.accepted} accepted not delivered"
    )
    if figures.seconds < TARGET_RATE_SECONDS:
        measured += (
            f"; measured for {figures.seconds:g} s, not the target's {TARGET_RATE_SECONDS:g}"
        )
    return f"{target}: {verdict(intake_met(figures, counts))} ({measured})"
