"""A bad DOMS_* variable is one line naming the variable, its value and what it should be,
and every `doms` command stops with status 2 before doing anything."""

from __future__ import annotations

import argparse

import pytest

from doms import cli
from doms.invalid_settings import InvalidSettings, load_settings
from doms.settings import Settings

# The arguments each command needs besides its name, to get past argparse.
REQUIRED_ARGUMENTS = {"keys": ["list"], "bench": ["intake"]}


def refused(monkeypatch: pytest.MonkeyPatch, **variables: str) -> list[str]:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InvalidSettings) as refusal:
        load_settings()
    return refusal.value.problems


@pytest.mark.parametrize(
    ("variable", "value", "line"),
    [
        (
            "DOMS_RATE_LIMIT_PER_SECOND",
            "abc",
            "DOMS_RATE_LIMIT_PER_SECOND is 'abc': "
            "should be a valid number, unable to parse string as a number",
        ),
        ("DOMS_API_PORT", "0", "DOMS_API_PORT is '0': should be greater than or equal to 1"),
        (
            "DOMS_MODE",
            "fast",
            "DOMS_MODE is 'fast': should be 'centralized', 'distributed' or 'hybrid'",
        ),
        (
            "DOMS_TEMPORAL_TLS",
            "maybe",
            "DOMS_TEMPORAL_TLS is 'maybe': should be a valid boolean, unable to interpret input",
        ),
        (
            "DOMS_WORKER_FCS",
            "sea,oak",
            'DOMS_WORKER_FCS is \'sea,oak\': should be a JSON list of FC ids, e.g. ["sea","oak"]',
        ),
        ("DOMS_WORKER_FCS", "[1]", "DOMS_WORKER_FCS is '[1]': item 0 should be a valid string"),
        (
            "DOMS_TEMPORAL_ADDRESS",
            "temporal",
            "DOMS_TEMPORAL_ADDRESS is 'temporal': should be host:port, e.g. 127.0.0.1:7233",
        ),
        (
            "DOMS_IDEMPOTENCY_TTL_HOURS",
            "12",
            "DOMS_IDEMPOTENCY_TTL_HOURS is '12': should be at least 24 (hours): clients retry "
            "with an Idempotency-Key for up to a day",
        ),
        # pydantic-settings reads variable names in any case; the line names the setting.
        ("doms_speedup", "-1", "DOMS_SPEEDUP is '-1': should be greater than 0"),
    ],
)
def test_a_bad_value_is_one_line_with_the_variable_the_value_and_the_expectation(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, line: str
) -> None:
    assert refused(monkeypatch, **{variable: value}) == [line]


def test_each_bad_setting_has_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = refused(monkeypatch, DOMS_API_PORT="http", DOMS_FAULT_RATE="2", DOMS_MODE="x")

    assert [line.split(" is ")[0] for line in problems] == [
        "DOMS_API_PORT",
        "DOMS_MODE",
        "DOMS_FAULT_RATE",
    ]


def test_settings_that_go_together_are_named_with_the_one_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert refused(monkeypatch, DOMS_TEMPORAL_TLS_CERT_FILE="/etc/doms/client.pem") == [
        "DOMS_TEMPORAL_TLS_CERT_FILE is '/etc/doms/client.pem' but DOMS_TEMPORAL_TLS_KEY_FILE "
        "is not set: set both (mTLS client certificate and its key) or neither"
    ]


def test_good_settings_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOMS_WORKER_FCS", '["sea","oak"]')
    monkeypatch.setenv("DOMS_TEMPORAL_ADDRESS", "orders.a1b2c.tmprl.cloud:7233")

    settings = load_settings()

    assert settings.worker_fcs == ["sea", "oak"]
    assert settings.temporal_port == 7233


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_command_refuses_bad_settings_with_status_2_before_it_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    def must_not_run(settings: Settings, args: argparse.Namespace) -> int:
        pytest.fail(f"doms {command} ran with refused settings")

    monkeypatch.setitem(cli.COMMANDS, command, (must_not_run, "help"))
    monkeypatch.setenv("DOMS_RATE_LIMIT_PER_SECOND", "abc")
    monkeypatch.setenv("DOMS_MODE", "fast")

    status = cli.main([command, *REQUIRED_ARGUMENTS.get(command, [])])

    assert status == 2
    assert capsys.readouterr().err.splitlines() == [
        f"doms {command}: DOMS_MODE is 'fast': should be 'centralized', 'distributed' or 'hybrid'",
        f"doms {command}: DOMS_RATE_LIMIT_PER_SECOND is 'abc': "
        "should be a valid number, unable to parse string as a number",
    ]
