"""Passwords (argon2 through pwdlib), API tokens (stored as sha256) and nicknames."""

from __future__ import annotations

import hashlib
import secrets

from pwdlib import PasswordHash

TOKEN_PREFIX = "hw1_"
_passwords = PasswordHash.recommended()

ADJECTIVES = (
    "amber",
    "brisk",
    "calm",
    "daring",
    "eager",
    "fuzzy",
    "gentle",
    "hidden",
    "icy",
    "jolly",
    "keen",
    "lucky",
    "mellow",
    "nimble",
    "odd",
    "proud",
    "quiet",
    "rapid",
    "sunny",
    "tidy",
)
ANIMALS = (
    "otter",
    "falcon",
    "badger",
    "heron",
    "lynx",
    "panda",
    "quokka",
    "raven",
    "tapir",
    "walrus",
    "yak",
    "zebra",
    "koala",
    "ibis",
    "gecko",
    "moose",
    "newt",
    "orca",
    "puffin",
    "stoat",
)


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        _passwords.hash(password)  # same cost whether or not the user exists
        return False
    return _passwords.verify(password, password_hash)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def random_password() -> str:
    return secrets.token_urlsafe(12)


def random_nickname() -> str:
    """An anonymous name for the public scoreboard, e.g. 'keen-otter-4821'."""
    return f"{secrets.choice(ADJECTIVES)}-{secrets.choice(ANIMALS)}-{secrets.randbelow(10000):04d}"
