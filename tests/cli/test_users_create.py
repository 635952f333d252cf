"""``marketplace users create``: arbiters and admins, with the password kept out of argv and output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Run
from tests.support.api import assert_api_error
from tests.support.client import SiteClient

PASSWORD = "correct horse battery staple"


@pytest.mark.usefixtures("production_env")
def test_an_arbiter_created_with_the_password_on_stdin_can_get_a_token(run: Run, client: SiteClient) -> None:
    result = run("users", "create", "--username", "judge-judy", "--role", "arbiter", input=PASSWORD + "\n")

    assert result.exit_code == 0, result.output
    assert "created arbiter judge-judy" in result.stdout
    assert PASSWORD not in result.output
    token = client.api_token("judge-judy", PASSWORD)
    client.use_token(token)
    me = client.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json()["username"] == "judge-judy"
    assert me.json()["role"] == "arbiter"


@pytest.mark.usefixtures("production_env")
def test_the_password_can_come_from_a_file(run: Run, client: SiteClient, tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n", encoding="utf-8")

    result = run(
        "users", "create", "--username", "root-admin", "--role", "admin", "--password-file", str(password_file)
    )

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    client.use_token(client.api_token("root-admin", PASSWORD))  # the trailing newline is not part of it
    assert client.get("/api/v1/admin/actions").status_code == 200


@pytest.mark.usefixtures("production_env")
@pytest.mark.parametrize(("password", "complaint"), [("short", "at least 10"), ("password123", "too common")])
def test_a_weak_password_creates_nothing(run: Run, client: SiteClient, password: str, complaint: str) -> None:
    refused = run("users", "create", "--username", "judge-dredd", "--role", "arbiter", input=password + "\n")

    assert refused.exit_code == 2
    assert complaint in refused.stderr
    assert password not in refused.output
    token_answer = client.post("/api/v1/tokens", json={"username": "judge-dredd", "password": password})
    assert_api_error(token_answer, 401, "not_authenticated")
    # Nothing was created: the name is still free.
    retry = run("users", "create", "--username", "judge-dredd", "--role", "arbiter", input=PASSWORD + "\n")
    assert retry.exit_code == 0, retry.output


@pytest.mark.usefixtures("production_env")
def test_a_taken_username_is_refused(run: Run) -> None:
    first = run("users", "create", "--username", "twin", "--role", "arbiter", input=PASSWORD + "\n")
    second = run("users", "create", "--username", "TWIN", "--role", "admin", input=PASSWORD + "\n")

    assert first.exit_code == 0
    assert second.exit_code == 2
    assert "username: This username is taken" in second.stderr  # the field at fault, then the reason
    assert second.stdout == ""


@pytest.mark.usefixtures("production_env")
def test_an_unknown_role_or_missing_file_is_refused(run: Run, tmp_path: Path) -> None:
    bad_role = run("users", "create", "--username", "someone", "--role", "king", input=PASSWORD + "\n")
    no_file = run(
        "users", "create", "--username", "someone", "--role", "arbiter", "--password-file", str(tmp_path / "missing")
    )

    assert bad_role.exit_code == 2
    assert "king" in bad_role.stderr
    assert no_file.exit_code == 2
    assert "cannot read" in no_file.stderr
