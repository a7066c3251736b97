"""``rltrack server admin ...`` (users, teams, keys, project owners) and ``rltrack login URL``.

The admin commands work on the store directly (``--dir``, and ``--db`` for a PostgreSQL store), so
the first user can be made before the server runs; a running server notices it within a second.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from rltrack.errors import RltrackError

__all__ = ["register"]

F = TypeVar("F", bound=Callable[..., Any])


def _accounts(ctx: click.Context) -> Any:
    """Open (create) the accounts of the store named by ``admin``'s or ``server``'s --dir/--db."""
    from rltrack.server.accounts import open_accounts
    from rltrack.store.paths import resolve_root

    params: dict[str, Any] = {}
    # `rltrack server --dir D --db URL admin ...` or `rltrack server admin --dir D --db URL ...`: the latter wins.
    for level in (ctx.parent.parent if ctx.parent else None, ctx.parent):
        if level is not None:
            params.update({k: v for k, v in level.params.items() if v is not None})
    root = resolve_root(params.get("store_dir"))
    try:
        accounts = open_accounts(root, params.get("db_url"), create=True)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    ctx.call_on_close(accounts.db.close)
    return accounts


def _run(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except RltrackError as err:
        raise click.ClickException(str(err)) from err


def _password(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))


@click.group("admin")
@click.option("--dir", "store_dir", type=click.Path(file_okay=False), default=None,
              help="Store folder (default: the server's --dir, $RLTRACK_DIR or ./rltrack-runs).")
@click.option("--db", "db_url", envvar="RLTRACK_DB", default=None, metavar="URL",
              help="The store's PostgreSQL URL (accounts live in its database, not in --dir).")
def admin(store_dir: str | None, db_url: str | None) -> None:
    """Manage accounts of a team server: users, teams, API keys, project owners.

    Accounts turn on when the first user exists: from then on every request needs an API key,
    a browser login or a --token-file token.
    """


@admin.command("create-user")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def create_user(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Create a user (asks for the password)."""
    from rltrack.server.accounts.credentials import check_name

    name = _run(lambda: check_name("user", name))  # before asking for a password
    accounts = _accounts(ctx)
    if name in _run(accounts.users):
        raise click.ClickException(f"user {name!r} exists already; pick another name")
    password = _password(f"Password for {name}", password_stdin)
    user = _run(lambda: accounts.create_user(name, password))
    click.echo(f"created user {user}; give them an API key with: rltrack server admin create-key {user}")


@admin.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.pass_context
def set_password(ctx: click.Context, name: str, password_stdin: bool) -> None:
    """Replace a user's password (ends their browser sessions)."""
    accounts = _accounts(ctx)
    password = _password(f"New password for {name}", password_stdin)
    _run(lambda: accounts.set_password(name, password))
    click.echo(f"password of {name} replaced")


@admin.command("create-team")
@click.argument("name")
@click.pass_context
def create_team(ctx: click.Context, name: str) -> None:
    """Create a team."""
    accounts = _accounts(ctx)
    team = _run(lambda: accounts.create_team(name))
    click.echo(f"created team {team}; add people with: rltrack server admin add-member {team} USER --role member")


@admin.command("add-member")
@click.argument("team")
@click.argument("user")
@click.option("--role", type=click.Choice(["admin", "member", "viewer"]), default="member", show_default=True,
              help="admin: everything in the team's projects; member: read and write; viewer: read.")
@click.pass_context
def add_member(ctx: click.Context, team: str, user: str, role: str) -> None:
    """Add USER to TEAM with a role (or change their role)."""
    accounts = _accounts(ctx)
    _run(lambda: accounts.add_member(team, user, role))
    click.echo(f"{user.lower()} is {role} of {team.lower()}")


@admin.command("remove-member")
@click.argument("team")
@click.argument("user")
@click.pass_context
def remove_member(ctx: click.Context, team: str, user: str) -> None:
    """Take USER out of TEAM."""
    accounts = _accounts(ctx)
    if not _run(lambda: accounts.remove_member(team, user)):
        raise click.ClickException(f"{user!r} is not in team {team!r}")
    click.echo(f"{user.lower()} left {team.lower()}")


@admin.command("create-key")
@click.argument("user")
@click.option("--label", default="", help="What the key is for (shown in lists), e.g. the machine's name.")
@click.pass_context
def create_key(ctx: click.Context, user: str, label: str) -> None:
    """Make an API key for USER and print it once (it is stored only as a hash)."""
    accounts = _accounts(ctx)
    key_id, key = _run(lambda: accounts.create_key(user, label))
    click.echo(f"API key {key_id} for {user.lower()} (shown once, keep it secret):", err=True)
    click.echo(key)


@admin.command("revoke-key")
@click.argument("key_id")
@click.pass_context
def revoke_key(ctx: click.Context, key_id: str) -> None:
    """Revoke an API key by its id (the rlt_xxxxxxxx part shown by list); it stops working at once."""
    accounts = _accounts(ctx)
    if not _run(lambda: accounts.revoke_key(key_id)):
        raise click.ClickException(f"no live API key {key_id[:12]!r}; see `rltrack server admin list`")
    click.echo(f"revoked {key_id[:12]}")


@admin.command("set-project")
@click.argument("project")
@click.option("--user", "owner", default=None, help="The user who owns the project.")
@click.option("--team", default=None, help="The team the project belongs to.")
@click.option("--visibility", type=click.Choice(["private", "team"]), default=None,
              help="private: the owner and team admins; team: every team member (default with --team).")
@click.pass_context
def set_project(ctx: click.Context, project: str, owner: str | None, team: str | None, visibility: str | None) -> None:
    """Give PROJECT an owner (a user, a team, or both) and a visibility; runs logged into it then follow."""
    accounts = _accounts(ctx)
    row = _run(lambda: accounts.set_project(project, owner_user=owner, team=team, visibility=visibility))
    click.echo(f"project {row.name}: owner {row.owner_user or '-'}, team {row.team or '-'}, {row.visibility}")


@admin.command("list")
@click.pass_context
def list_accounts(ctx: click.Context) -> None:
    """List users, teams with roles, API keys (ids only) and project owners."""
    accounts = _accounts(ctx)
    teams = _run(accounts.teams)
    click.echo("users: " + (", ".join(_run(accounts.users)) or "none (accounts are off)"))
    for team, members in teams.items():
        click.echo(f"team {team}: " + (", ".join(f"{u} ({r})" for u, r in members.items()) or "no members"))
    for k in _run(accounts.keys):
        state = "revoked" if k.revoked_ns is not None else "live"
        click.echo(f"key {k.key_id} of {k.user}: {state}{f' ({k.label})' if k.label else ''}")
    for name, row in sorted(_run(accounts.projects).items()):
        click.echo(f"project {name}: owner {row.owner_user or '-'}, team {row.team or '-'}, {row.visibility}")


@click.command("login")
@click.argument("url")
@click.option("--key", default=None, help="An API key to store (checked with the server) instead of a password.")
@click.option("--user", default=None, help="User name (asked when not given).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--label", default=None, help="Label of the new key (default: this machine's name).")
def login(url: str, key: str | None, user: str | None, password_stdin: bool, label: str | None) -> None:
    """Log in to an rltrack server at URL and store an API key for it (mode 0600) for init(mode="online")."""
    from rltrack._login import credentials_path, fetch_key, verify_key
    from rltrack._login import login as store

    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise click.UsageError(f"URL {url!r} must start with http:// or https://")
    try:
        if key is not None:
            who = verify_key(url, key.strip())
            key = key.strip()
        else:
            user = user or click.prompt("User", default=getpass.getuser())
            password = (sys.stdin.readline().rstrip("\r\n") if password_stdin
                        else click.prompt("Password", hide_input=True))
            key = fetch_key(url, str(user), password, label or f"rltrack login on {os.uname().nodename}")
            who = str(user).lower()
        store(key=key, host=url)
    except RltrackError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"logged in to {url}{f' as {who}' if who else ''}; key stored in {Path(credentials_path())}")


def register(main: click.Group) -> None:
    """Add ``admin`` to ``rltrack server`` and ``login`` to ``rltrack``."""
    server = main.commands.get("server")
    if isinstance(server, click.Group):
        server.add_command(admin)
    main.add_command(login)
