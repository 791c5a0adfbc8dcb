"""API key tokens: their format, parsing, and the hash that is stored instead of the secret."""

from __future__ import annotations

import hashlib

import pytest

from domain.access import (
    ApiToken,
    InvalidKeySpec,
    Role,
    check_key_spec,
    hash_secret,
    secret_matches,
)


def test_a_new_token_reads_back_as_itself() -> None:
    token = ApiToken.new()

    assert str(token).startswith(f"doms_{token.key_id}_")
    assert ApiToken.parse(str(token)) == token


def test_the_secret_has_256_random_bits_and_tokens_differ() -> None:
    tokens = [ApiToken.new() for _ in range(50)]

    assert len({token.secret for token in tokens}) == 50
    assert len({token.key_id for token in tokens}) == 50
    # token_urlsafe(32): 32 random bytes, base64url without padding: 43 characters.
    assert all(len(token.secret) == 43 for token in tokens)


def test_a_secret_may_hold_underscores() -> None:
    token = ApiToken.parse("doms_0123456789abcdef_a_b_c")

    assert token == ApiToken("0123456789abcdef", "a_b_c")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "doms",
        "doms_0123456789abcdef",
        "doms_0123456789abcdef_",
        "key_0123456789abcdef_secret",
        "doms_0123456789ABCDEF_secret",  # key ids are lower-case hex
        "doms_0123456789abcde_secret",  # one digit short
        "doms_0123456789abcdefg_secret",
        "doms__secret",
        "Bearer doms_0123456789abcdef_secret",
    ],
)
def test_malformed_tokens_are_refused(text: str) -> None:
    assert ApiToken.parse(text) is None


def test_the_stored_hash_is_the_sha256_of_the_secret_and_not_the_secret() -> None:
    token = ApiToken.new()

    assert token.secret_hash == hashlib.sha256(token.secret.encode()).hexdigest()
    assert token.secret not in token.secret_hash
    assert secret_matches(token.secret, token.secret_hash)
    assert not secret_matches(token.secret + "x", token.secret_hash)
    assert not secret_matches(token.secret, hash_secret("another"))


def test_only_a_customer_key_names_a_customer() -> None:
    check_key_spec(Role.CUSTOMER, "c-1")
    check_key_spec(Role.OPERATOR, None)
    check_key_spec(Role.CARRIER, None)
    refusals = (
        (Role.CUSTOMER, None, "needs the customer id"),
        (Role.CUSTOMER, "", "needs the customer id"),
        (Role.OPERATOR, "c-1", "only customer keys act for a customer, not operator keys"),
        (Role.CARRIER, "c-1", "not carrier keys"),
    )
    for role, customer, reason in refusals:
        with pytest.raises(InvalidKeySpec, match=reason):
            check_key_spec(role, customer)
