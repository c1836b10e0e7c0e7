"""A throwaway PostgreSQL + PostGIS cluster on 127.0.0.1 for the tests.

Uses Debian's ``postgresql`` and ``postgis`` packages (``scripts/install-test-deps.sh``
installs them).  The cluster lives in a temporary folder, listens on a free port
of 127.0.0.1 only, asks for a password (so tests see passwords being hidden) and
is stopped and removed at the end of the session.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INSTALL = "sh scripts/install-test-deps.sh (Debian packages postgresql and postgis)"
PASSWORD = "s3cret-pw"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing() -> str | None:
    """Why no cluster can be started here (None when it can)."""
    bindir = _bindir()
    if bindir is None:
        return f"PostgreSQL is not installed: {INSTALL}"
    if not glob.glob(str(bindir.parent / "../../../share/postgresql/*/extension/postgis.control")):
        if not glob.glob("/usr/share/postgresql/*/extension/postgis.control"):
            return f"PostGIS is not installed: {INSTALL}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster with a ``landuse`` database (PostGIS enabled); yield its URL."""
    bindir = _bindir()
    assert bindir is not None
    root = Path(tempfile.mkdtemp(prefix="landuse-pg-"))
    data, pwfile = root / "data", root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, cwd=root)

    run(
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        f"--pwfile={pwfile}",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
    )
    options = f"-c listen_addresses=127.0.0.1 -c port={port} -k {root} -c fsync=off"
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-w",
        "-l",
        str(root / "log"),
        "start",
    )
    try:
        run(
            str(bindir / "psql"),
            "-h",
            str(root),
            "-p",
            str(port),
            "-U",
            "postgres",
            "-c",
            "CREATE DATABASE landuse",
        )
        run(
            str(bindir / "psql"),
            "-h",
            str(root),
            "-p",
            str(port),
            "-U",
            "postgres",
            "-d",
            "landuse",
            "-c",
            "CREATE EXTENSION postgis",
        )
        yield f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/landuse"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)
