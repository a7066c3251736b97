"""A throwaway PostgreSQL cluster for the tests: ``initdb`` into a temp dir, ``pg_ctl start`` on loopback.

The cluster listens on 127.0.0.1 only (a free port) and on a unix socket inside its own folder, with
durability off (``fsync=off``: a test database need not survive a power cut). ``initdb`` refuses to run
as root, so under root the cluster runs as the ``postgres`` system user (Debian's package creates it),
with the folder handed to that user.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["PgCluster", "find_bindir"]


def find_bindir() -> Path | None:
    """Return the folder holding ``initdb`` and ``pg_ctl`` (Debian keeps them off PATH), or None."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    """One running PostgreSQL server; :meth:`new_database` hands out empty databases."""

    def __init__(self, bindir: Path) -> None:
        self._bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="rltrack-pg-"))
        self.port = _free_port()
        self._user: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.dir, ignore_errors=True)
                raise RuntimeError("initdb refuses to run as root and there is no 'postgres' user to run it as; "
                                   "apt-get install postgresql creates one") from None
            os.chown(self.dir, account.pw_uid, account.pw_gid)
            self._user = ["runuser", "-u", "postgres", "--"]
        self._names = itertools.count()
        data = self.dir / "data"
        self._run("initdb", "-D", str(data), "-U", "rltrack", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.dir} -c fsync=off -c synchronous_commit=off"
            " -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.dir / "log"), "-w", "-t", "60", "start")
        self.admin_url = f"postgresql://rltrack@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self._user, str(self._bindir / program), *args], capture_output=True, text=True)
        if done.returncode != 0:
            log = self.dir / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stderr or done.stdout}\n{tail}")

    def new_database(self) -> str:
        """Create an empty database (a schema first on its search path) and return its URL."""
        import psycopg

        # A schema per test in one database: as empty as a new database, in milliseconds, not a second.
        name = f"t{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")  # type: ignore[arg-type]  # a name we made up
        return f"{self.admin_url}?options=-csearch_path%3D{name}"

    def restart(self) -> None:
        """Restart the server (fast shutdown: every client connection is dropped)."""
        # -l again: without it the new server would write to (and hold open) our output pipe.
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-m", "fast", "-w", "-t", "60",
                  "restart")

    def stop(self) -> None:
        """Stop the server at once and delete its folder."""
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
