"""The users file and its hashed tokens: what `alerts users add` writes, what a token is
checked against, roles, and the file read again when it changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from postwatch.alerts.users import (
    Directory,
    Sessions,
    UsersError,
    add_user,
    hash_token,
    load_users,
    may,
    remove_user,
    verify_token,
)


def test_a_token_is_stored_as_a_salted_scrypt_hash_and_checked_against_it() -> None:
    stored = hash_token("ana.s3cret")
    assert stored.startswith("scrypt$16384$8$1$")
    assert "s3cret" not in stored
    assert verify_token("ana.s3cret", stored)
    assert not verify_token("ana.s3cret!", stored)
    assert not verify_token("", stored)
    assert hash_token("ana.s3cret") != stored  # a salt of its own each time
    assert not verify_token("ana.s3cret", "plain-text")
    assert not verify_token("ana.s3cret", stored.replace("$16384$", "$1000$"))  # no power of 2


def test_roles_allow_what_the_roles_before_them_do() -> None:
    assert may("admin", "reviewer")
    assert may("reviewer", "reviewer")
    assert may("reviewer", "viewer")
    assert not may("viewer", "reviewer")
    assert not may("reviewer", "admin")


def test_users_add_prints_a_token_once_and_keeps_only_its_hash(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    token = add_user(path, "ana", "reviewer")
    assert token.startswith("ana.")
    text = path.read_text()
    assert token.split(".", 1)[1] not in text
    assert path.stat().st_mode & 0o077 == 0  # readable by its owner only
    users = load_users(path)
    assert users["ana"].role == "reviewer"
    assert verify_token(token, users["ana"].token_hash or "")

    assert add_user(path, "bo@example.org", "viewer", token=False) == ""
    assert load_users(path)["bo@example.org"].token_hash is None
    with pytest.raises(UsersError, match="exists"):
        add_user(path, "ana", "admin")
    renewed = add_user(path, "ana", "admin", replace=True)
    assert renewed != token
    assert load_users(path)["ana"].role == "admin"
    remove_user(path, "ana")
    assert set(load_users(path)) == {"bo@example.org"}
    with pytest.raises(UsersError, match="no user 'ana'"):
        remove_user(path, "ana")
    with pytest.raises(UsersError, match="not a user name"):
        add_user(path, 'x"] role', "admin")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[users.ana]\nrole = "boss"\n', "role must be one of"),
        ('[users.ana]\nrole = "viewer"\ntoken = "plain"\n', "no scrypt hash"),
        ('[users.ana]\nrole = "viewer"\nextra = 1\n', "an entry holds"),
        ('[users."a b"]\nrole = "viewer"\n', "a name holds"),
        ('[admins]\nana = "x"\n', "tables only"),
        ("[users\n", "cannot read"),
    ],
)
def test_a_bad_users_file_is_refused_naming_the_entry(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "users.toml"
    path.write_text(text)
    with pytest.raises(UsersError, match=problem):
        load_users(path)


def test_the_directory_reads_the_file_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "users.toml"
    token = add_user(path, "ana", "reviewer")
    now = [0.0]
    directory = Directory(path, clock=lambda: now[0])
    user = directory.by_token(token)
    assert user is not None
    assert user.name == "ana"
    assert directory.by_token(token + "x") is None
    assert directory.by_token("nobody." + token.split(".", 1)[1]) is None
    assert directory.by_token("garbage") is None

    new = add_user(path, "ana", "viewer", replace=True)
    now[0] += 2
    assert directory.by_token(token) is None  # the old token no longer holds
    assert (found := directory.by_token(new)) is not None
    assert found.role == "viewer"

    path.write_text("[users\n")  # broken by a hand edit: the users read last stay
    now[0] += 2
    assert directory.get("ana") is not None


def test_sessions_end_after_their_lifetime() -> None:
    now = [0.0]
    sessions = Sessions(clock=lambda: now[0])
    session = sessions.start("ana", "token", "hash")
    assert sessions.get(session.id) == session
    assert session.csrf != session.id
    assert sessions.get("forged") is None
    assert sessions.get(None) is None
    now[0] += 8 * 86400
    assert sessions.get(session.id) is None
