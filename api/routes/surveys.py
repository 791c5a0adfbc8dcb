"""Customer satisfaction surveys, one per delivered order."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, status

from api.auth import AUTH_RESPONSES, CUSTOMERS_AND_OPERATORS, Caller
from api.deps import SessionDep
from api.ownership import check_owner
from api.problems import Problem
from api.schemas import Identifier, SurveyCreate, SurveyPublic
from store.surveys import SurveyAnswers, SurveyOutcome, record_survey

router = APIRouter(
    prefix="/orders",
    tags=["surveys"],
    dependencies=CUSTOMERS_AND_OPERATORS,
    responses=AUTH_RESPONSES,
)

REFUSALS = {
    SurveyOutcome.NO_SUCH_ORDER: (404, "Order not found", "no order {}"),
    SurveyOutcome.NOT_DELIVERED: (409, "Order not delivered", "order {} is not delivered yet"),
    SurveyOutcome.ALREADY_ANSWERED: (409, "Survey already answered", "order {} has a survey"),
}


@router.post(
    "/{order_id}/survey",
    status_code=status.HTTP_201_CREATED,
    responses={404: {"description": "No such order"}, 409: {"description": "Not yet / again"}},
)
async def answer_survey(
    order_id: Identifier, body: SurveyCreate, session: SessionDep, caller: Caller
) -> SurveyPublic:
    """Record the customer's ratings of a delivered order."""
    await check_owner(session, caller, order_id)
    answered_at = datetime.now(UTC)
    answers = SurveyAnswers(body.delivery_time, body.accuracy, body.overall, body.comment)
    outcome = await record_survey(session, order_id, answers, answered_at)
    if outcome in REFUSALS:
        code, title, detail = REFUSALS[outcome]
        raise Problem(code, title, detail.format(order_id))
    return SurveyPublic(order_id=order_id, **body.model_dump(), answered_at=answered_at)
