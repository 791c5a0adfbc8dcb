"""Dependencies of the routes, as Annotated aliases so routes read as plain signatures.

Each is `async def`, even where it awaits nothing: FastAPI runs a plain `def` dependency on
its thread pool, a thread hop per request for reading app state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.intake import Intake
from doms.settings import Settings


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def _intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(_settings)]
TemporalDep = Annotated[Client, Depends(_temporal)]
IntakeDep = Annotated[Intake, Depends(_intake)]
SessionDep = Annotated[AsyncSession, Depends(_session)]
