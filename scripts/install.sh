#!/usr/bin/env bash
# Installs posterm on a Debian / Raspberry Pi OS terminal as a system service.
#
#   sudo make install            (or: sudo scripts/install.sh)
#
# Puts the application into /opt/posterm (source in /opt/posterm/app, its own venv in
# /opt/posterm/venv), the site configuration into /etc/posterm (never overwritten), the systemd
# units, udev rules and the kernel NFC blacklist into place, and creates the `posterm` system
# user (groups plugdev, video, dialout). It does not enable or start the service: configure,
# probe and enrol first (docs/install.md). Safe to run again to upgrade.
#
# Variables (for packaging and tests): DESTDIR (staging root, default none), PREFIX
# (/opt/posterm), CONFDIR (/etc/posterm), STATEDIR (/var/lib/posterm), UNITDIR
# (/etc/systemd/system), UDEVDIR (/etc/udev/rules.d), MODPROBEDIR (/etc/modprobe.d),
# INSTALL_VENV (1; 0 skips building the venv, e.g. when a package builds it elsewhere),
# SYSTEM_SETUP (1 when DESTDIR is empty; 0 skips apt, the user and systemctl/udevadm calls).
set -euo pipefail
cd "$(dirname "$0")/.."
SOURCE=$(pwd)

DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/posterm}
CONFDIR=${CONFDIR:-/etc/posterm}
STATEDIR=${STATEDIR:-/var/lib/posterm}
UNITDIR=${UNITDIR:-/etc/systemd/system}
UDEVDIR=${UDEVDIR:-/etc/udev/rules.d}
MODPROBEDIR=${MODPROBEDIR:-/etc/modprobe.d}
INSTALL_VENV=${INSTALL_VENV:-1}
if [ -z "$DESTDIR" ]; then SYSTEM_SETUP=${SYSTEM_SETUP:-1}; else SYSTEM_SETUP=${SYSTEM_SETUP:-0}; fi
SERVICE_USER=posterm
DEVICE_GROUPS=(plugdev video dialout)

say() { echo "install: $*"; }
die() { echo "install: $*" >&2; exit 1; }

if [ "$SYSTEM_SETUP" = 1 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root: sudo make install (or sudo scripts/install.sh)"
fi

# -- system packages and the service user ---------------------------------------------------
if [ "$SYSTEM_SETUP" = 1 ]; then
    packages=(python3 python3-venv libusb-1.0-0 libzbar0)
    missing=()
    for pkg in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq </dev/null
        apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
    fi
    for group in "${DEVICE_GROUPS[@]}"; do
        getent group "$group" >/dev/null || groupadd --system "$group"
    done
    if ! id "$SERVICE_USER" >/dev/null 2>&1; then
        say "creating the system user $SERVICE_USER"
        useradd --system --user-group --home-dir "$STATEDIR" --no-create-home \
            --shell /usr/sbin/nologin --comment "posterm payment terminal" "$SERVICE_USER"
    fi
    usermod -a -G "$(IFS=,; echo "${DEVICE_GROUPS[*]}")" "$SERVICE_USER"
fi

owner() {  # owner USER:GROUP PATH... (only when we manage users)
    if [ "$SYSTEM_SETUP" = 1 ]; then chown "$@"; fi
}

# -- the application and its venv -------------------------------------------------------------
app="$DESTDIR$PREFIX/app"
say "copying posterm to $PREFIX/app"
install -d -m 0755 "$DESTDIR$PREFIX" "$app"
if git -C "$SOURCE" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # Tracked and new files as they are in the working tree (a file deleted there is skipped).
    (cd "$SOURCE" && git ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' file; do if [ -e "$file" ]; then printf '%s\0' "$file"; fi; done \
        | tar --null -T - -cf -) | tar -C "$app" -xf -
else
    tar -C "$SOURCE" --exclude=.venv --exclude=.git --exclude=var --exclude='__pycache__' -cf - . \
        | tar -C "$app" -xf -
fi
if [ "$INSTALL_VENV" = 1 ]; then
    python=${PYTHON:-python3}
    "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || die "posterm needs Python 3.11 or newer ($python is older)"
    [ -x "$DESTDIR$PREFIX/venv/bin/python" ] || "$python" -m venv "$DESTDIR$PREFIX/venv"
    say "installing Python packages into $PREFIX/venv (a few minutes on a Raspberry Pi)"
    "$DESTDIR$PREFIX/venv/bin/python" -m pip install -q --disable-pip-version-check \
        --upgrade pip </dev/null
    # Editable, so config/default.toml and config/sim/ next to the code are found.
    "$DESTDIR$PREFIX/venv/bin/python" -m pip install -q --disable-pip-version-check \
        -e "$app" </dev/null
    install -d -m 0755 "$DESTDIR/usr/local/bin"
    ln -sf "$PREFIX/venv/bin/posterm" "$DESTDIR/usr/local/bin/posterm"
fi

# -- configuration and state ------------------------------------------------------------------
install -d -m 0750 "$DESTDIR$CONFDIR"
owner "root:$SERVICE_USER" "$DESTDIR$CONFDIR"
if [ ! -e "$DESTDIR$CONFDIR/posterm.toml" ]; then
    say "writing a first $CONFDIR/posterm.toml from config/examples/posterm.toml: edit it"
    install -m 0640 config/examples/posterm.toml "$DESTDIR$CONFDIR/posterm.toml"
    owner "root:$SERVICE_USER" "$DESTDIR$CONFDIR/posterm.toml"
else
    say "keeping the existing $CONFDIR/posterm.toml"
fi
install -d -m 0750 "$DESTDIR$STATEDIR"
owner "$SERVICE_USER:$SERVICE_USER" "$DESTDIR$STATEDIR"

# -- units, udev rules, module blacklist --------------------------------------------------------
install -d -m 0755 "$DESTDIR$UNITDIR" "$DESTDIR$UDEVDIR" "$DESTDIR$MODPROBEDIR"
for unit in systemd/*.service; do
    sed -e "s#/opt/posterm/#$PREFIX/#g" -e "s#/etc/posterm/#$CONFDIR/#g" \
        "$unit" >"$DESTDIR$UNITDIR/$(basename "$unit")"
    chmod 0644 "$DESTDIR$UNITDIR/$(basename "$unit")"
done
install -m 0644 systemd/60-posterm-nfc.rules "$DESTDIR$UDEVDIR/60-posterm-nfc.rules"
install -m 0644 systemd/posterm-nfc.conf "$DESTDIR$MODPROBEDIR/posterm-nfc.conf"

if [ "$SYSTEM_SETUP" = 1 ]; then
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
    fi
    if command -v udevadm >/dev/null 2>&1; then
        udevadm control --reload || true
        udevadm trigger --subsystem-match=usb || true
    fi
    for module in pn533_usb pn533 port100 nfc; do
        modprobe -r "$module" 2>/dev/null || true
    done
fi

cat <<EOF
install: done. Next steps (docs/install.md):
  1. edit $CONFDIR/posterm.toml, or: sudo posterm config set devices.nfc usb:072f:2200
  2. set the technician PIN:          sudo posterm pin set technician
  3. check the hardware:              sudo -u $SERVICE_USER posterm devices probe
  4. create the terminal key and enrol it with the bank (posterm keys init; show-public)
  5. start it:                        sudo systemctl enable --now posterm
     (or the screen on tty1:         sudo systemctl enable --now posterm-kiosk)
EOF
