"""The README's set-up commands: CI runs them verbatim, and the install script's branches.

The install script runs against fake ``id``, ``sudo``, ``apt-get`` and ``python``
programs that log their calls, with a PATH holding nothing else, so every branch
(root, normal user with and without sudo, Debian, Ubuntu, other) runs here.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "scripts" / "install-test-deps.sh"
#: What a bare Debian machine gets, in the script's order.
EVERYTHING = "chromium postgresql postgis libreoffice-calc-nogui poppler-utils"


def _readme_commands() -> dict[str, str]:
    """The one-line bash blocks of README "Set up on a fresh machine", by their bold title."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Set up on a fresh machine", 1)[1].split("\n## ", 1)[0]
    return {
        title: command
        for title, command in re.findall(r"\*\*(.+?)\*\*.*?```bash\n(.+?)\n```", section, re.S)
    }


def test_ci_runs_exactly_the_readme_commands():
    commands = _readme_commands()
    assert set(commands) == {"Run the demo", "Run the tests"}
    assert all("sudo" not in c for c in commands.values())  # root has none on Debian
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    # Each README command is a line of .ci/run, with only `|| exit` after it.
    run = [line.removesuffix(" || exit") for line in ci if line.endswith(" || exit")]
    assert run == [commands["Run the demo"], commands["Run the tests"]]
    assert "ruff check ." in ci and "ruff format --check ." in ci
    assert "landuse demo --out" in commands["Run the demo"]
    assert "sh scripts/install-test-deps.sh" in commands["Run the tests"]


def _fake(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)


@pytest.fixture
def machine(tmp_path):
    """Run the script on a fake machine: ``run(distro, uid, sudo=, chromium=, postgis=, office=)``.

    ``office``: LibreOffice (soffice) and poppler (pdftotext) are installed.
    """

    def run(
        distro: str,
        uid: int,
        *,
        sudo: bool = True,
        chromium: bool = False,
        postgis: bool = False,
        office: bool = False,
    ):
        bin_dir = tmp_path / f"bin-{distro}-{uid}-{sudo}-{chromium}-{postgis}-{office}"
        bin_dir.mkdir()
        sysroot = bin_dir / "root"  # where the script looks for PostgreSQL and PostGIS
        if postgis:
            for path in (
                "usr/lib/postgresql/15/bin/initdb",
                "usr/share/postgresql/15/extension/postgis.control",
            ):
                (sysroot / path).parent.mkdir(parents=True)
                (sysroot / path).touch()
        log = bin_dir / "calls.log"
        logged = f'echo "${{0##*/}} $*" >> {log}'
        _fake(bin_dir, "id", f"echo {uid}")
        _fake(bin_dir, "apt-get", logged)
        _fake(bin_dir, "python", logged)
        if sudo:
            _fake(bin_dir, "sudo", f'{logged}\nexec "$@"')
        if chromium:
            _fake(bin_dir, "chromium", "true")
        if office:
            _fake(bin_dir, "soffice", "true")
            _fake(bin_dir, "pdftotext", "true")
        os.symlink("/usr/bin/env", bin_dir / "env")
        os_release = bin_dir / "os-release"
        os_release.write_text(f'ID={distro}\nID_LIKE=""\n', encoding="utf-8")
        proc = subprocess.run(
            ["/bin/sh", str(SCRIPT)],
            env={
                "PATH": str(bin_dir),
                "LANDUSE_OS_RELEASE": str(os_release),
                "LANDUSE_SYSROOT": str(sysroot),
            },
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        return proc, calls

    return run


def test_debian_as_root_without_sudo_runs_apt_get_itself(machine):
    proc, calls = machine("debian", 0, sudo=False)
    assert proc.returncode == 0, proc.stderr
    assert calls == [
        "apt-get update -q",
        f"apt-get install -y -q {EVERYTHING}",
    ]


def test_debian_normal_user_goes_through_sudo(machine):
    proc, calls = machine("debian", 1000)
    assert proc.returncode == 0, proc.stderr
    assert calls == [
        "sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q",
        "apt-get update -q",
        f"sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q {EVERYTHING}",
        f"apt-get install -y -q {EVERYTHING}",
    ]


def test_debian_normal_user_without_sudo_is_told_what_to_run(machine):
    proc, calls = machine("debian", 1000, sudo=False)
    assert proc.returncode == 1 and calls == []
    assert f"as root run `apt-get update && apt-get install -y {EVERYTHING}`" in proc.stderr


def test_everything_already_there_installs_nothing(machine):
    proc, calls = machine("debian", 1000, chromium=True, postgis=True, office=True)
    assert proc.returncode == 0 and calls == []


def test_only_what_is_missing(machine):
    proc, calls = machine("debian", 0, chromium=True, office=True)
    assert proc.returncode == 0, proc.stderr
    assert calls == ["apt-get update -q", "apt-get install -y -q postgresql postgis"]
    proc, calls = machine("debian", 0, chromium=True, postgis=True)
    assert proc.returncode == 0, proc.stderr
    assert calls == [
        "apt-get update -q",
        "apt-get install -y -q libreoffice-calc-nogui poppler-utils",
    ]


def test_ubuntu_uses_playwrights_chromium(machine):
    proc, calls = machine("ubuntu", 1000, postgis=True, office=True)
    assert proc.returncode == 0, proc.stderr
    assert calls == [
        "python -c import playwright",
        "python -m playwright install --with-deps chromium",
    ]


def test_other_systems_are_told_what_to_do(machine):
    proc, calls = machine("fedora", 0)
    assert proc.returncode == 1 and calls == []
    assert "not Debian or Ubuntu" in proc.stderr
