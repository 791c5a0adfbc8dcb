"""Customer surveys: one per delivered order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.orders import OrderStatus
from store.models import OrderRow, SurveyRow


@dataclass(frozen=True)
class SurveyAnswers:
    delivery_time: int
    accuracy: int
    overall: int
    comment: str | None


class SurveyOutcome(StrEnum):
    RECORDED = "recorded"
    NO_SUCH_ORDER = "no_such_order"
    NOT_DELIVERED = "not_delivered"
    ALREADY_ANSWERED = "already_answered"


async def record_survey(
    session: AsyncSession, order_id: str, answers: SurveyAnswers, answered_at: datetime
) -> SurveyOutcome:
    order = await session.get(OrderRow, order_id)
    if order is None:
        return SurveyOutcome.NO_SUCH_ORDER
    if order.status != OrderStatus.DELIVERED:
        return SurveyOutcome.NOT_DELIVERED
    session.add(
        SurveyRow(
            order_id=order_id,
            delivery_time=answers.delivery_time,
            accuracy=answers.accuracy,
            overall=answers.overall,
            comment=answers.comment,
            answered_at=answered_at,
        )
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        # The survey's key is the order id, so a concurrent second answer lands here; any
        # other broken constraint (a rating out of range) is a caller's bug, not a repeat.
        if await session.get(SurveyRow, order_id) is None:
            raise
        return SurveyOutcome.ALREADY_ANSWERED
    return SurveyOutcome.RECORDED
