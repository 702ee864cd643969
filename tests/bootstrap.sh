#!/usr/bin/env bash
# Set up a fresh machine for maild development, then run the demo or the tests.
#
#   bash tests/bootstrap.sh demo    # install what is missing, run `maild demo`
#   bash tests/bootstrap.sh test    # install what is missing, run the test suite
#
# Installs Dovecot (Debian/Ubuntu: apt-get; macOS: Homebrew) and Cyrus IMAP (the
# second IMAP implementation the tests run against; Debian/Ubuntu only) when missing,
# and for the tests neomutt and tmux (a real mail client, driven in a terminal);
# creates .venv, installs maild with its test extra. Extra arguments go to pytest / maild demo.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-test}"
shift || true

say() { printf '==> %s\n' "$*" >&2; }

find_dovecot() {
    command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || [ -x /opt/homebrew/sbin/dovecot ] \
        || [ -x /usr/local/sbin/dovecot ]
}

if ! find_dovecot; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        say "installing dovecot-imapd with apt-get"
        $sudo apt-get update -qq
        # The package's own service is not needed (maild starts a private Dovecot).
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq dovecot-imapd >/dev/null
    elif command -v brew >/dev/null 2>&1; then
        say "installing dovecot with Homebrew"
        brew install dovecot
    else
        say "Dovecot is not installed and neither apt-get nor brew is available;"
        say "install Dovecot's IMAP server yourself (tests that need it will be skipped)"
    fi
fi

# Cyrus IMAP for the tests that run against both IMAP servers. Debian's cyrus-imapd
# conflicts with dovecot-imapd as packages, so only its tools (cyrus-common,
# cyrus-admin, sasl2-bin) are installed and the cyrus-imapd .deb (imapd, idled) is
# unpacked into a private root that maild.sandbox.cyrus looks in. Idempotent.
install_cyrus_imapd() {
    local root="${MAILD_CYRUS_ROOT:-/usr/local/lib/maild/cyrus-imapd}"
    if [ -x "$root/usr/lib/cyrus/bin/imapd" ] && [ -x /usr/lib/cyrus/bin/master ] \
        && [ -x /usr/sbin/saslpasswd2 ]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "Cyrus IMAP needs apt-get (Debian/Ubuntu); tests that need it will be skipped"
        return 0
    fi
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    say "installing Cyrus IMAP tools with apt-get, imapd into $root"
    $sudo apt-get update -qq
    # The packages' own services are not needed (the tests start a private Cyrus).
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq cyrus-common cyrus-admin \
        sasl2-bin >/dev/null
    local tmp
    tmp="$(mktemp -d)"
    chmod 755 "$tmp"  # apt-get download runs as the _apt user
    (cd "$tmp" && apt-get download -qq cyrus-imapd >/dev/null)
    $sudo mkdir -p "$root"
    $sudo dpkg-deb -x "$tmp"/cyrus-imapd_*.deb "$root"
    rm -rf "$tmp"
}

install_cyrus_imapd

# The browser tests of the page (tests/ui) drive Debian's chromium through Playwright;
# Playwright's own browser download is not used (its host may be unreachable).
install_chromium() {
    if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
        return 0
    fi
    if command -v apt-get >/dev/null 2>&1; then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        say "installing chromium with apt-get (for the page's browser tests)"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    else
        say "chromium is not installed and apt-get is not available; the browser tests"
        say "will be skipped (set MAILD_CHROMIUM to a Chromium binary to run them)"
    fi
}

# tests/mail/test_neomutt.py drives a real mail client (neomutt) in tmux.
if [ "$mode" = test ] && { ! command -v neomutt >/dev/null 2>&1 \
        || ! command -v tmux >/dev/null 2>&1; }; then
    if command -v apt-get >/dev/null 2>&1; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        say "installing neomutt and tmux with apt-get"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq neomutt tmux >/dev/null
    elif command -v brew >/dev/null 2>&1; then
        say "installing neomutt and tmux with Homebrew"
        brew install neomutt tmux
    else
        say "neomutt or tmux is missing (the test with a real mail client will be skipped)"
    fi
fi

python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$python" -m venv .venv
fi
say "installing maild and its test extra into .venv"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

case "$mode" in
    demo)
        if .venv/bin/maild demo --help >/dev/null 2>&1; then
            exec .venv/bin/maild demo "$@"
        fi
        exec .venv/bin/maild --help
        ;;
    test)
        install_chromium
        exec .venv/bin/python -m pytest "$@"
        ;;
    *)
        say "usage: bash tests/bootstrap.sh demo|test [args...]"
        exit 2
        ;;
esac
