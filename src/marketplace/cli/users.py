"""``marketplace users``: accounts that cannot register themselves (arbiters and admins)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from marketplace.accounts.models import Role
from marketplace.accounts.services import create_account
from marketplace.cli.context import database, settings_or_exit
from marketplace.cli.output import JsonOutput, report
from marketplace.errors import InvalidInput

app = typer.Typer(help="Manage accounts.", no_args_is_help=True)


def _read_password(password_file: Path | None) -> str:
    """The password from ``password_file``, else a prompt on a terminal, else one line of stdin."""
    if password_file is not None:
        try:
            return password_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise InvalidInput(f"cannot read {password_file}: {exc.strerror}", field="password_file") from None
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return str(password)
    return sys.stdin.readline().rstrip("\r\n")


@app.command("create")
def create(
    username: str = typer.Option(..., "--username", help="The new account's username."),
    role: Role = typer.Option(..., "--role", help="arbiter, admin, vendor or buyer."),
    password_file: Path | None = typer.Option(
        None, "--password-file", help="Read the password from this file (else from standard input)."
    ),
    json_output: JsonOutput = False,
) -> None:
    """Create an account of any role. The password is read from standard input or --password-file, never argv.

    JSON: {"id": number, "username": text, "role": text}.
    """
    settings = settings_or_exit()
    password = _read_password(password_file)
    with database(settings) as db, db.session() as session:
        user = create_account(session, username=username, password=password, role=role)
        user_id, created_username = user.id, user.username
    report(
        {"id": user_id, "username": created_username, "role": role.value},
        f"created {role.value} [bold]{created_username}[/bold] (id {user_id})",
        json_output=json_output,
    )
