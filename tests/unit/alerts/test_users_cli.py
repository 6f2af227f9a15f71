"""`postwatch alerts users add|remove`, and `alerts serve` refusing to start without users or
with a users file it cannot read, run in-process through click's runner."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from postwatch.alerts.users import load_users, verify_token
from postwatch.cli import main


def run(*args: str, **env: str) -> tuple[int, str, str]:
    environ = {
        "POSTWATCH_ALERTS_USERS": "",
        **{f"POSTWATCH_{k.upper()}": v for k, v in env.items()},
    }
    result = CliRunner(env=environ).invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_users_add_prints_the_token_alone_on_standard_output(tmp_path: Path) -> None:
    users = tmp_path / "users.toml"
    code, out, err = run(
        "alerts", "users", "add", "ana", "--role", "reviewer", "--file", str(users)
    )
    assert code == 0
    token = out.strip()
    assert "\n" not in token
    assert "not shown again" in err
    assert verify_token(token, load_users(users)["ana"].token_hash or "")

    code, _, err = run("alerts", "users", "add", "ana", "--role", "admin", alerts_users=str(users))
    assert code == 1
    assert "exists" in err
    code, out, _ = run(
        "alerts", "users", "add", "ana", "--role", "admin", "--replace", alerts_users=str(users)
    )
    assert code == 0
    assert out.strip() != token
    proxied = ("alerts", "users", "add", "bo@example.org", "--role", "viewer", "--proxy-only")
    code, out, err = run(*proxied, alerts_users=str(users))
    assert (code, out) == (0, "")
    assert "through the proxy" in err
    assert {u.name: u.role for u in load_users(users).values()} == {
        "ana": "admin",
        "bo@example.org": "viewer",
    }

    assert run("alerts", "users", "remove", "ana", "--file", str(users))[0] == 0
    code, _, err = run("alerts", "users", "remove", "ana", "--file", str(users))
    assert code == 1
    assert "no user 'ana'" in err


def test_users_need_a_file_and_a_role() -> None:
    code, _, err = run("alerts", "users", "add", "ana", "--role", "reviewer")
    assert code == 2
    assert "POSTWATCH_ALERTS_USERS" in err
    code, _, err = run("alerts", "users", "add", "ana", "--role", "boss", "--file", "u.toml")
    assert code == 2


def test_serve_refuses_to_start_without_users_or_with_a_file_it_cannot_read(
    tmp_path: Path,
) -> None:
    code, _, err = run("alerts", "serve")
    assert code == 2
    assert "POSTWATCH_ALERTS_USERS" in err
    assert "POSTWATCH_ALERTS_TOKEN" in err  # what it replaces
    broken = tmp_path / "users.toml"
    broken.write_text('[users.ana]\nrole = "boss"\n')
    code, _, err = run("alerts", "serve", alerts_users=str(broken))
    assert code == 1
    assert "role must be one of" in err
    proxied = {"alerts_proxy_user_header": "X-Forwarded-User", "alerts_proxy_role": "owner"}
    code, _, err = run("alerts", "serve", **proxied)
    assert code == 1
    assert "POSTWATCH_ALERTS_PROXY_ROLE" in err
