#!/bin/sh
# The system packages the tests need beyond pip:
#   - a Chromium for the map tests, which drive the map in a real browser through
#     playwright;
#   - PostgreSQL with PostGIS for the shared-database tests (a throwaway cluster
#     on 127.0.0.1 is started by the tests themselves);
#   - LibreOffice Calc and poppler's pdftotext for the workbook tests, which print
#     the meeting workbook to PDF and read it back.
#
#   Debian: the distribution's packages, with apt-get run as root, or through
#           sudo for a normal user.
#   Ubuntu: PostgreSQL and PostGIS the same way; its `chromium` is a snap that
#           playwright cannot drive, so playwright's own build instead (with the
#           project's virtualenv active, as in the README), which runs apt-get
#           for its libraries as root or through sudo.
#
# Installs only what is missing. Says what to do when it cannot install.
# Usage (README, "Run the tests"): sh scripts/install-test-deps.sh
set -eu

os_release=${LANDUSE_OS_RELEASE:-/etc/os-release} # another file only in this script's tests
sysroot=${LANDUSE_SYSROOT:-}                       # likewise: where the probes below look
distro=$( (. "$os_release" && echo "${ID:-} ${ID_LIKE:-}") 2>/dev/null || true)

fail() {
    echo "错误 Error: $1" >&2
    exit 1
}

exists() { # exists GLOB: some file matches
    for f in $1; do
        [ -e "$f" ] && return 0
    done
    return 1
}

# Debian/Ubuntu packages that are missing, by what each installs.
missing=""
exists "$sysroot/usr/lib/postgresql/*/bin/initdb" || missing="$missing postgresql"
exists "$sysroot/usr/share/postgresql/*/extension/postgis.control" || missing="$missing postgis"
command -v soffice >/dev/null 2>&1 || missing="$missing libreoffice-calc-nogui"
command -v pdftotext >/dev/null 2>&1 || missing="$missing poppler-utils"

can_be_root() { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; }

# apt-get as root, through sudo for a normal user.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    else
        sudo "$@"
    fi
}

apt_install() { # apt_install " pkg ...": nothing when the list is empty
    [ -n "$1" ] || return 0
    can_be_root ||
        fail "安装测试所需的系统软件包需要 root 权限，本机没有 sudo / installing$1 needs root and there is no sudo: as root run \`apt-get update && apt-get install -y$1\`, then run this again."
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086 # one word per package
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $1
}

case " $distro " in
*" ubuntu "*)
    command -v python >/dev/null 2>&1 && python -c "import playwright" 2>/dev/null ||
        fail "先激活项目的虚拟环境并安装测试依赖 / activate the project's virtualenv first: . .venv/bin/activate && pip install -e \".[test]\""
    if ! can_be_root; then
        fail "Chromium 的系统库需要 root 权限，本机没有 sudo / Chromium's libraries need root and there is no sudo: as root run \`.venv/bin/python -m playwright install-deps chromium\`, then run this again."
    fi
    apt_install "$missing"
    python -m playwright install --with-deps chromium
    ;;
*" debian "*)
    command -v chromium >/dev/null 2>&1 || missing=" chromium$missing"
    apt_install "$missing"
    ;;
*)
    fail "不是 Debian 或 Ubuntu / not Debian or Ubuntu: install Chromium (its program must be called chromium), PostgreSQL, PostGIS, LibreOffice Calc (soffice) and poppler (pdftotext) with this system's package manager, then run pytest."
    ;;
esac
