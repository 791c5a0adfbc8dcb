"""The keys an API process verified lately (api/auth.py): trusted for the ttl, known to the
rate limit for longer, bounded in number, and never holding a token in clear."""

from __future__ import annotations

from api.auth import Principal, VerifiedKeys
from domain.access import Role

ALICE = Principal("k-alice", Role.CUSTOMER, "c-alice")
CARRIER = Principal("k-carrier", Role.CARRIER, None)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_trusted_for_the_ttl_and_known_by_id_after() -> None:
    clock = FakeClock()
    keys = VerifiedKeys(ttl_seconds=30, clock=clock)
    keys.remember("token-a", ALICE)

    clock.now += 29.9
    assert keys.trusted("token-a") == ALICE
    clock.now += 0.1
    assert keys.trusted("token-a") is None  # ask the database again
    assert keys.key_id_of("token-a") == "k-alice"  # still the rate limit's key


def test_a_ttl_of_zero_trusts_nothing_but_still_names_the_key() -> None:
    keys = VerifiedKeys(ttl_seconds=0, clock=FakeClock())
    keys.remember("token-a", ALICE)

    assert keys.trusted("token-a") is None
    assert keys.key_id_of("token-a") == "k-alice"


def test_unknown_and_forgotten_tokens_are_nobody() -> None:
    keys = VerifiedKeys(ttl_seconds=30, clock=FakeClock())
    keys.remember("token-a", ALICE)
    keys.forget("token-a")

    assert keys.trusted("token-a") is None
    assert keys.key_id_of("token-a") is None
    assert keys.key_id_of("token-b") is None
    keys.forget("never-seen")  # nothing to forget: no error


def test_the_least_recently_verified_go_first_beyond_the_bound() -> None:
    keys = VerifiedKeys(ttl_seconds=30, clock=FakeClock(), max_keys=2)
    keys.remember("token-a", ALICE)
    keys.remember("token-b", CARRIER)
    keys.remember("token-a", ALICE)  # verified again: now the most recent
    keys.remember("token-c", CARRIER)

    assert len(keys) == 2
    assert keys.key_id_of("token-b") is None
    assert keys.key_id_of("token-a") == "k-alice"


def test_no_token_is_held_in_clear() -> None:
    keys = VerifiedKeys(ttl_seconds=30, clock=FakeClock())
    keys.remember("doms_0123456789abcdef_the-secret", ALICE)

    assert "the-secret" not in repr(vars(keys))
