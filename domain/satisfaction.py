"""How a simulated customer answers the survey: a documented response model.

Pure and deterministic given an rng. These are our model's assumptions, not the paper's
numbers: the paper's Table 4.3 (mean satisfaction per order type) is what the experiment
compares against later, so nothing here is tuned to reproduce it.

A survey has three ratings, integers 1 to 5 (api/schemas.py SurveyCreate):

delivery_time
    latent = BASE_RATING
             - LATE_WEIGHT * max(0, hours - promised) / promised     (the promise broken)
             - SLOW_WEIGHT * max(0, hours - expected) / expected     (slower than hoped)
             + Normal(0, DELIVERY_NOISE_SD)
    Both penalties are relative: an hour late weighs more on a 4-hour promise than on a
    30-hour one, which is also what makes the types differ. A delivery on time and within
    the customer's expectation scores BASE_RATING before noise. Each penalty is a ramp,
    zero up to its threshold and linear after it, so ratings never improve as a delivery
    gets later.
accuracy
    latent = ACCURATE_RATING if the order came as ordered else INACCURATE_RATING,
             + Normal(0, ACCURACY_NOISE_SD)
overall
    latent = DELIVERY_WEIGHT * clamp(delivery latent) + ACCURACY_WEIGHT * clamp(accuracy latent)
             + Normal(0, OVERALL_NOISE_SD)
    A blend of what the customer just felt about the two aspects, with its own noise
    (mood, the product itself, which the model does not see).

Each latent is rounded half up and clamped to 1..5. The rng draws exactly three normal
deviates per survey, in a fixed order, whatever the inputs: with the same rng state a
later delivery never rates better, not only on average.

Parameters (ResponseModel's defaults) and why:

- Expectations per order type, the hours after which a customer of that type starts to
  find the delivery slow, in the simulated hours of the paper's same-day world:
  expedited 4 h (they paid for speed), standard 8 h (a working day), international 24 h
  (they know it crosses borders and customs, so they are patient).
- BASE_RATING 5: nothing to complain about is a top rating; the noise and the clamp at 5
  bring the mean of such orders to about 4.6.
- LATE_WEIGHT 4 points per promise-length of lateness: 25% later than promised costs a
  point. A broken promise is the strongest driver of dissatisfaction.
- SLOW_WEIGHT 2 points per expectation-length beyond the expectation: 50% slower than
  hoped costs a point, even when the promise was kept (a generous promise does not make
  a slow delivery fast).
- ACCURATE_RATING 5, INACCURATE_RATING 2: a wrong or missing item is a bad experience,
  not the worst one (it can be returned).
- DELIVERY_WEIGHT 0.6, ACCURACY_WEIGHT 0.4: the study is about delivery time, and
  accuracy is usually right, so delivery drives the overall rating.
- Noise standard deviations 0.7 (delivery time: people judge speed loosely), 0.5
  (accuracy: right or wrong is clearer) and 0.5 (overall).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from domain.orders import OrderType

MIN_RATING, MAX_RATING = 1, 5


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a customer of one order type expects: delivery within `hours` simulated hours."""

    order_type: OrderType
    hours: float
    why: str

    def __post_init__(self) -> None:
        if not self.hours > 0:
            raise ValueError(f"expectation for {self.order_type} must be positive hours")


DEFAULT_EXPECTATIONS: Mapping[OrderType, Expectation] = MappingProxyType(
    {
        OrderType.EXPEDITED: Expectation(OrderType.EXPEDITED, 4.0, "paid for speed"),
        OrderType.STANDARD: Expectation(OrderType.STANDARD, 8.0, "within a working day"),
        OrderType.INTERNATIONAL: Expectation(
            OrderType.INTERNATIONAL, 24.0, "crosses borders and customs: patient"
        ),
    }
)


@dataclass(frozen=True, slots=True)
class ResponseModel:
    """The response model's parameters; see the module docstring for each one's reason."""

    expectations: Mapping[OrderType, Expectation] = field(
        default_factory=lambda: DEFAULT_EXPECTATIONS
    )
    base_rating: float = 5.0
    late_weight: float = 4.0
    slow_weight: float = 2.0
    accurate_rating: float = 5.0
    inaccurate_rating: float = 2.0
    delivery_weight: float = 0.6
    accuracy_weight: float = 0.4
    delivery_noise_sd: float = 0.7
    accuracy_noise_sd: float = 0.5
    overall_noise_sd: float = 0.5

    def __post_init__(self) -> None:
        missing = set(OrderType) - set(self.expectations)
        if missing:
            raise ValueError(f"no expectation for order types {sorted(missing)}")
        weights = (self.late_weight, self.slow_weight, self.delivery_weight, self.accuracy_weight)
        sds = (self.delivery_noise_sd, self.accuracy_noise_sd, self.overall_noise_sd)
        if any(value < 0 for value in (*weights, *sds)):
            raise ValueError("weights and noise standard deviations cannot be negative")
        if not math.isclose(self.delivery_weight + self.accuracy_weight, 1.0):
            raise ValueError("the overall rating's weights must add up to 1")

    def parameters(self) -> dict[str, Any]:
        """Every parameter as plain data, for a report to record beside its results."""
        return {
            "expectations_hours": {
                str(order_type): expectation.hours
                for order_type, expectation in self.expectations.items()
            },
            "base_rating": self.base_rating,
            "late_weight": self.late_weight,
            "slow_weight": self.slow_weight,
            "accurate_rating": self.accurate_rating,
            "inaccurate_rating": self.inaccurate_rating,
            "delivery_weight": self.delivery_weight,
            "accuracy_weight": self.accuracy_weight,
            "delivery_noise_sd": self.delivery_noise_sd,
            "accuracy_noise_sd": self.accuracy_noise_sd,
            "overall_noise_sd": self.overall_noise_sd,
        }


DEFAULT_MODEL = ResponseModel()


@dataclass(frozen=True, slots=True)
class SurveyAnswers:
    """The three ratings of a survey, each 1..5, in the shape of POST /orders/{id}/survey."""

    delivery_time: int
    accuracy: int
    overall: int

    def as_body(self) -> dict[str, int]:
        return {
            "delivery_time": self.delivery_time,
            "accuracy": self.accuracy,
            "overall": self.overall,
        }


def delivery_penalty(
    order_type: OrderType,
    fulfilment_hours: float,
    promised_hours: float | None,
    model: ResponseModel = DEFAULT_MODEL,
) -> float:
    """Rating points lost to lateness against the promise and slowness against the
    type's expectation (0 when on time and within expectation). Without a promise, only
    the expectation counts."""
    if fulfilment_hours < 0:
        raise ValueError(f"fulfilment cannot take negative hours, got {fulfilment_hours}")
    expected = model.expectations[order_type].hours
    slow = model.slow_weight * max(0.0, fulfilment_hours - expected) / expected
    if promised_hours is None or promised_hours <= 0:
        return slow
    late = model.late_weight * max(0.0, fulfilment_hours - promised_hours) / promised_hours
    return late + slow


def survey_answers(
    order_type: OrderType | str,
    fulfilment_hours: float,
    promised_hours: float | None,
    accurate: bool,
    rng: random.Random,
    model: ResponseModel = DEFAULT_MODEL,
) -> SurveyAnswers:
    """One customer's answers to the survey of a delivered order."""
    kind = OrderType(order_type)
    delivery_noise = rng.gauss(0.0, model.delivery_noise_sd)
    accuracy_noise = rng.gauss(0.0, model.accuracy_noise_sd)
    overall_noise = rng.gauss(0.0, model.overall_noise_sd)

    penalty = delivery_penalty(kind, fulfilment_hours, promised_hours, model)
    delivery = _clamp(model.base_rating - penalty + delivery_noise)
    accuracy_base = model.accurate_rating if accurate else model.inaccurate_rating
    accuracy = _clamp(accuracy_base + accuracy_noise)
    overall = model.delivery_weight * delivery + model.accuracy_weight * accuracy + overall_noise
    return SurveyAnswers(_rating(delivery), _rating(accuracy), _rating(overall))


def _clamp(score: float) -> float:
    return min(float(MAX_RATING), max(float(MIN_RATING), score))


def _rating(score: float) -> int:
    """Round half up (not to even: a 3.5 is a 4 on any survey) and clamp to 1..5."""
    return int(_clamp(math.floor(score + 0.5)))
