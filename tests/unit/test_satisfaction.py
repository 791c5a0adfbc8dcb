"""The survey response model: ratings from delivery time against the promise and the
order type's expectation, plus noise; seeded, bounded, monotone."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.orders import OrderType
from domain.satisfaction import (
    DEFAULT_EXPECTATIONS,
    DEFAULT_MODEL,
    Expectation,
    ResponseModel,
    SurveyAnswers,
    delivery_penalty,
    survey_answers,
)

DRAWS = 4_000
hours = st.floats(min_value=0.0, max_value=500.0, allow_nan=False)
promises = st.one_of(st.none(), st.floats(min_value=0.5, max_value=200.0, allow_nan=False))
order_types = st.sampled_from(list(OrderType))


def answers(
    order_type: OrderType,
    fulfilment: float,
    promised: float | None,
    *,
    accurate: bool = True,
    seed: int = 1,
    draws: int = DRAWS,
) -> list[SurveyAnswers]:
    rng = random.Random(seed)
    return [survey_answers(order_type, fulfilment, promised, accurate, rng) for _ in range(draws)]


def mean_delivery(order_type: OrderType, fulfilment: float, promised: float | None) -> float:
    return statistics.mean(a.delivery_time for a in answers(order_type, fulfilment, promised))


def mean_overall(order_type: OrderType, fulfilment: float, promised: float | None) -> float:
    return statistics.mean(a.overall for a in answers(order_type, fulfilment, promised))


def test_the_same_seed_gives_the_same_answers() -> None:
    assert answers(OrderType.STANDARD, 9.0, 8.0, seed=5, draws=200) == answers(
        OrderType.STANDARD, 9.0, 8.0, seed=5, draws=200
    )


def test_different_seeds_give_different_answers() -> None:
    assert answers(OrderType.STANDARD, 9.0, 8.0, seed=5, draws=200) != answers(
        OrderType.STANDARD, 9.0, 8.0, seed=6, draws=200
    )


@given(order_types, hours, promises, st.booleans(), st.integers(0, 2**32))
def test_ratings_are_always_whole_numbers_from_1_to_5(
    order_type: OrderType, fulfilment: float, promised: float | None, accurate: bool, seed: int
) -> None:
    survey = survey_answers(order_type, fulfilment, promised, accurate, random.Random(seed))

    for rating in (survey.delivery_time, survey.accuracy, survey.overall):
        assert isinstance(rating, int) and 1 <= rating <= 5


@given(order_types, hours, hours, promises, st.integers(0, 2**32))
def test_with_the_same_luck_a_later_delivery_never_rates_better(
    order_type: OrderType, first: float, second: float, promised: float | None, seed: int
) -> None:
    sooner, later = sorted((first, second))

    early = survey_answers(order_type, sooner, promised, True, random.Random(seed))
    late = survey_answers(order_type, later, promised, True, random.Random(seed))

    assert late.delivery_time <= early.delivery_time
    assert late.overall <= early.overall
    assert late.accuracy == early.accuracy  # speed does not change whether it was right


@pytest.mark.parametrize("order_type", list(OrderType))
def test_mean_ratings_fall_as_the_delivery_gets_later(order_type: OrderType) -> None:
    expected = DEFAULT_EXPECTATIONS[order_type].hours
    promised = expected * 1.2
    fulfilments = [expected * factor for factor in (0.5, 1.0, 1.3, 1.8, 3.0)]

    means = [mean_delivery(order_type, hours, promised) for hours in fulfilments]

    assert means == sorted(means, reverse=True)
    assert means[0] > means[-1] + 1  # the slowest is clearly worse, not just noise


@pytest.mark.parametrize("order_type", list(OrderType))
def test_faster_than_expected_rates_better_than_slower_than_expected(
    order_type: OrderType,
) -> None:
    expected = DEFAULT_EXPECTATIONS[order_type].hours
    generous_promise = expected * 10  # on time either way: only the expectation differs

    fast = mean_delivery(order_type, expected * 0.8, generous_promise)
    slow = mean_delivery(order_type, expected * 2.0, generous_promise)

    assert fast > slow


def test_a_broken_promise_costs_more_than_the_same_delivery_on_time() -> None:
    on_time = mean_delivery(OrderType.STANDARD, 7.0, 8.0)
    late = mean_delivery(OrderType.STANDARD, 7.0, 5.0)

    assert on_time > late


def test_an_on_time_expedited_order_rates_better_than_a_late_standard_one() -> None:
    expedited = mean_overall(OrderType.EXPEDITED, 3.5, 4.0)
    standard = mean_overall(OrderType.STANDARD, 14.0, 10.0)

    assert expedited > standard


def test_the_same_delay_hurts_an_expedited_customer_more_than_an_international_one() -> None:
    # 12 hours, promised 10: two hours late for both, but expedited expected 4 hours.
    expedited = mean_delivery(OrderType.EXPEDITED, 12.0, 10.0)
    international = mean_delivery(OrderType.INTERNATIONAL, 12.0, 10.0)

    assert international > expedited


@pytest.mark.parametrize("order_type", list(OrderType))
def test_a_typical_on_time_order_rates_between_3_5_and_5_on_average(
    order_type: OrderType,
) -> None:
    expected = DEFAULT_EXPECTATIONS[order_type].hours

    overall = mean_overall(order_type, expected * 0.9, expected)
    delivery = mean_delivery(order_type, expected * 0.9, expected)

    assert 3.5 <= overall <= 5.0
    assert 3.5 <= delivery <= 5.0


def test_an_inaccurate_order_rates_lower_on_accuracy_and_overall() -> None:
    right = answers(OrderType.STANDARD, 6.0, 8.0, accurate=True)
    wrong = answers(OrderType.STANDARD, 6.0, 8.0, accurate=False)

    def mean(survey: list[SurveyAnswers], rating: str) -> float:
        return statistics.mean(getattr(a, rating) for a in survey)

    assert mean(wrong, "accuracy") < mean(right, "accuracy") - 1
    assert mean(wrong, "overall") < mean(right, "overall")


def test_without_noise_an_on_time_order_within_expectation_gets_the_base_rating() -> None:
    quiet = ResponseModel(delivery_noise_sd=0.0, accuracy_noise_sd=0.0, overall_noise_sd=0.0)

    survey = survey_answers(OrderType.STANDARD, 6.0, 8.0, True, random.Random(0), quiet)

    assert survey == SurveyAnswers(5, 5, 5)


def test_no_penalty_on_time_and_within_expectation_and_one_per_each_ramp_after() -> None:
    expected = DEFAULT_EXPECTATIONS[OrderType.STANDARD].hours
    model = DEFAULT_MODEL

    assert delivery_penalty(OrderType.STANDARD, expected, expected) == 0.0
    # Half the expectation slower, promise kept: slow_weight / 2 points.
    assert delivery_penalty(OrderType.STANDARD, expected * 1.5, expected * 2) == pytest.approx(
        model.slow_weight / 2
    )
    # Without a promise, only the expectation counts.
    assert delivery_penalty(OrderType.STANDARD, expected * 1.5, None) == pytest.approx(
        model.slow_weight / 2
    )


def test_survey_answers_are_the_body_of_the_survey_endpoint() -> None:
    from api.schemas import SurveyCreate

    survey = survey_answers("international", 30.0, 27.0, True, random.Random(3))

    assert SurveyCreate.model_validate(survey.as_body()).overall == survey.overall


def test_the_parameters_are_recorded_as_plain_data() -> None:
    recorded = DEFAULT_MODEL.parameters()

    assert recorded["expectations_hours"] == {
        str(kind): expectation.hours for kind, expectation in DEFAULT_EXPECTATIONS.items()
    }
    assert recorded["late_weight"] == DEFAULT_MODEL.late_weight


@pytest.mark.parametrize(
    "changes",
    [
        {"expectations": {OrderType.STANDARD: Expectation(OrderType.STANDARD, 8.0, "")}},
        {"late_weight": -1.0},
        {"delivery_noise_sd": -0.1},
        {"delivery_weight": 0.5, "accuracy_weight": 0.4},
    ],
)
def test_a_model_with_impossible_parameters_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ResponseModel(**changes)  # type: ignore[arg-type]


def test_an_expectation_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Expectation(OrderType.STANDARD, 0.0, "impatient")


def test_negative_fulfilment_hours_are_refused() -> None:
    with pytest.raises(ValueError):
        survey_answers(OrderType.STANDARD, -1.0, 8.0, True, random.Random(0))
