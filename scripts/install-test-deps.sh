#!/bin/sh
# The system packages the tests need beyond pip: a Chromium for the map tests,
# which drive the map in a real browser through playwright, and LibreOffice Calc
# for the workbook tests, which print the meeting workbook to PDF with it and read
# the PDF back with poppler's pdftotext.
#
#   Debian: the distribution's `chromium`, `libreoffice-calc-nogui` and `poppler-utils`,
#           with apt-get run as root, or through sudo for a normal user.
#   Ubuntu: its `chromium` is a snap that playwright cannot drive; playwright's
#           own build instead (with the project's virtualenv active, as in the
#           README), which runs apt-get for its libraries as root or through sudo;
#           LibreOffice and poppler from apt-get as on Debian.
#
# Nothing to do for what is already there. Says what to do when it cannot
# install. Usage (README, "Run the tests"): sh scripts/install-test-deps.sh
set -eu

os_release=${LANDUSE_OS_RELEASE:-/etc/os-release} # another file only in this script's tests
distro=$( (. "$os_release" && echo "${ID:-} ${ID_LIKE:-}") 2>/dev/null || true)

fail() {
    echo "错误 Error: $1" >&2
    exit 1
}

# apt-get as root, through sudo for a normal user.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        fail "安装 $packages 需要 root 权限，本机没有 sudo / installing $packages needs root and there is no sudo: as root run \`apt-get update && apt-get install -y $packages\`, then run this again."
    fi
}

# The Debian packages missing here: chromium (Debian only), LibreOffice Calc, poppler.
packages=""
case " $distro " in
*" ubuntu "*) ;;
*) command -v chromium >/dev/null 2>&1 || packages="chromium" ;;
esac
command -v soffice >/dev/null 2>&1 || packages="${packages:+$packages }libreoffice-calc-nogui"
command -v pdftotext >/dev/null 2>&1 || packages="${packages:+$packages }poppler-utils"

apt_install() {
    if [ -z "$packages" ]; then
        return 0
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $packages
}

case " $distro " in
*" ubuntu "*)
    command -v python >/dev/null 2>&1 && python -c "import playwright" 2>/dev/null ||
        fail "先激活项目的虚拟环境并安装测试依赖 / activate the project's virtualenv first: . .venv/bin/activate && pip install -e \".[test]\""
    if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
        fail "Chromium 的系统库需要 root 权限，本机没有 sudo / Chromium's libraries need root and there is no sudo: as root run \`.venv/bin/python -m playwright install-deps chromium\`, then run this again."
    fi
    python -m playwright install --with-deps chromium
    apt_install
    ;;
*" debian "*)
    apt_install
    echo "Chromium: $(command -v chromium || echo missing); LibreOffice: $(command -v soffice || echo missing)"
    ;;
*)
    fail "不是 Debian 或 Ubuntu / not Debian or Ubuntu: install Chromium (its program must be called chromium), LibreOffice Calc (soffice) and poppler (pdftotext) with this system's package manager, then run pytest."
    ;;
esac
