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
# What runs as the service and under `sudo posterm` must not be changeable by anyone but root
# (docs/security-deployment.md): only the files git tracks are installed (never an untracked
# site file or simulator key from the clone), owned root:root and not writable by others;
# Python packages come from requirements.lock, each checked against its sha256 (never "the
# latest"); the service user owns only its state directory.
#
# Variables (for packaging and tests): DESTDIR (staging root, default none), PREFIX
# (/opt/posterm), CONFDIR (/etc/posterm), STATEDIR (/var/lib/posterm), UNITDIR
# (/etc/systemd/system), UDEVDIR (/etc/udev/rules.d), MODPROBEDIR (/etc/modprobe.d),
# INSTALL_VENV (1; 0 skips building the venv, e.g. when a package builds it elsewhere),
# SYSTEM_SETUP (1 when DESTDIR is empty; 0 skips apt, the user and systemctl/udevadm calls),
# CREDENTIAL (as SYSTEM_SETUP; 1 creates the service's root secret credential if missing: on the
# terminal itself, since it is sealed to this machine), SYSTEMD_CREDS (the systemd-creds
# command; without it the secret is a plain root-only file).
set -euo pipefail
umask 022
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
CREDENTIAL=${CREDENTIAL:-$SYSTEM_SETUP}
SYSTEMD_CREDS=${SYSTEMD_CREDS:-systemd-creds}
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
# Only what git tracks, so the list of files is the repository's, not whatever lies in the clone.
# The clone usually belongs to the user who made it and git refuses to read another user's
# repository as root ("dubious ownership"): we name it safe for these read-only calls (whoever
# runs this script as root trusts the clone already, it is the code being installed) and turn
# off the one repository setting that would run a program (core.fsmonitor).
in_source() { git -c safe.directory="$SOURCE" -c core.fsmonitor=false -C "$SOURCE" "$@"; }
top=$(in_source rev-parse --show-toplevel 2>/dev/null || true)
if [ "$top" != "$SOURCE" ]; then
    die "$SOURCE is not a git clone of posterm: install from a clone (git clone), since only the files git tracks are installed"
fi
app="$DESTDIR$PREFIX/app"
say "copying posterm to $PREFIX/app (the files git tracks)"
install -d -m 0755 "$DESTDIR$PREFIX"
rm -rf "$app.new" "$app.old"
install -d -m 0755 "$app.new"
# Tracked files as they are in the working tree (a file deleted there is skipped); archived as
# root-owned and unpacked without the clone's owner or modes.
(cd "$SOURCE" && in_source ls-files -z --cached \
    | while IFS= read -r -d '' file; do if [ -e "$file" ]; then printf '%s\0' "$file"; fi; done \
    | tar --null -T - --owner=0 --group=0 --numeric-owner -cf -) \
    | tar -C "$app.new" --no-same-owner --no-same-permissions -xf -
chmod -R u=rwX,go=rX "$app.new"
if [ "$(id -u)" -eq 0 ]; then chown -R -h 0:0 "$app.new"; fi
# A new tree replaces the old one whole: nothing an earlier install left (a file since deleted
# from the repository, an untracked file an older install.sh copied) stays behind.
if [ -e "$app" ]; then mv "$app" "$app.old"; fi
mv "$app.new" "$app"
rm -rf "$app.old"

lock_entries() {  # lock_entries NAME...: those packages' pins and hashes from requirements.lock
    awk -v names=" $* " '
        /^[A-Za-z0-9]/ { split($1, pin, "=="); keep = index(names, " " tolower(pin[1]) " ") > 0 }
        keep && !/^ *#/ { print }' "$app/requirements.lock"
}

if [ "$INSTALL_VENV" = 1 ]; then
    [ -f "$app/requirements.lock" ] || die "requirements.lock is missing from the clone (make lock)"
    python=${PYTHON:-python3}
    "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
        || die "posterm needs Python 3.11 or newer ($python is older)"
    venv="$DESTDIR$PREFIX/venv"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input)
    say "installing the Python packages of requirements.lock into $PREFIX/venv, each checked"
    say "against its sha256 (a few minutes on a Raspberry Pi)"
    # First the build tools, from the lock too: a package without a wheel for this machine is
    # then built with them, offline, rather than with whatever the index serves that day.
    lock_entries setuptools wheel packaging >"$venv/build-tools.lock"
    "${pip[@]}" --require-hashes --no-deps -r "$venv/build-tools.lock" </dev/null
    rm -f "$venv/build-tools.lock"
    "${pip[@]}" --require-hashes --no-build-isolation -r "$app/requirements.lock" </dev/null
    # posterm itself, from the files just copied, with nothing more from the index. Editable,
    # so config/default.toml and config/sim/ next to the code are found.
    "${pip[@]}" --no-deps --no-build-isolation -e "$app" </dev/null
    if [ "$(id -u)" -eq 0 ]; then chown -R -h 0:0 "$app" "$venv"; fi
    chmod -R go-w "$app" "$venv"
    install -d -m 0755 "$DESTDIR/usr/local/bin"
    ln -sf "$PREFIX/venv/bin/posterm" "$DESTDIR/usr/local/bin/posterm"
fi

# -- configuration and state ------------------------------------------------------------------
install -d -m 0750 "$DESTDIR$CONFDIR"
owner "root:$SERVICE_USER" "$DESTDIR$CONFDIR"
if [ ! -e "$DESTDIR$CONFDIR/posterm.toml" ]; then
    say "writing a first $CONFDIR/posterm.toml from config/examples/posterm.toml: edit it"
    install -m 0640 "$app/config/examples/posterm.toml" "$DESTDIR$CONFDIR/posterm.toml"
    owner "root:$SERVICE_USER" "$DESTDIR$CONFDIR/posterm.toml"
else
    say "keeping the existing $CONFDIR/posterm.toml"
fi
install -d -m 0750 "$DESTDIR$STATEDIR"
owner "$SERVICE_USER:$SERVICE_USER" "$DESTDIR$STATEDIR"

# -- the root secret of the key hierarchy ---------------------------------------------------------
# 32 random bytes that systemd hands the service as $CREDENTIALS_DIRECTORY/posterm-root. Sealed
# with `systemd-creds encrypt` (to the TPM2 when the machine has one, else to the host key in
# /var/lib/systemd/credential.secret), so the file alone, copied off the terminal or its SD card,
# is useless. Without systemd-creds (systemd before 250) a root-only plain file outside the data
# directory, loaded with LoadCredential=. Never replaced: a new secret would lock the key store.
credentials="$DESTDIR$CONFDIR/credentials"
sealed="$credentials/posterm-root.cred"
plain="$credentials/posterm-root"
if [ "$CREDENTIAL" = 1 ]; then
    install -d -m 0700 "$credentials"
    if [ -e "$sealed" ] || [ -e "$plain" ]; then
        say "keeping the existing root secret in $CONFDIR/credentials"
    elif command -v "$SYSTEMD_CREDS" >/dev/null 2>&1; then
        say "sealing a new root secret with systemd-creds: $CONFDIR/credentials/posterm-root.cred"
        (umask 077 && head -c 32 /dev/urandom \
            | "$SYSTEMD_CREDS" encrypt --name=posterm-root - "$sealed.tmp") \
            || { rm -f "$sealed.tmp"; die "systemd-creds could not seal the root secret"; }
        chmod 0600 "$sealed.tmp"
        mv "$sealed.tmp" "$sealed"
    else
        say "no systemd-creds here: the root secret is a plain root-only file,"
        say "$CONFDIR/credentials/posterm-root (LoadCredential=)"
        (umask 077 && head -c 32 /dev/urandom >"$plain.tmp")
        mv "$plain.tmp" "$plain"
    fi
fi
# The units name the sealed credential; a plain one is loaded with LoadCredential= instead.
credential_rule="s#^LoadCredentialEncrypted=posterm-root:$CONFDIR/credentials/posterm-root.cred\$#LoadCredential=posterm-root:$CONFDIR/credentials/posterm-root#"
if [ ! -e "$plain" ]; then credential_rule=""; fi

# -- units, udev rules, module blacklist --------------------------------------------------------
install -d -m 0755 "$DESTDIR$UNITDIR" "$DESTDIR$UDEVDIR" "$DESTDIR$MODPROBEDIR"
for unit in "$app"/systemd/*.service; do
    sed -e "s#/opt/posterm/#$PREFIX/#g" -e "s#/etc/posterm/#$CONFDIR/#g" -e "$credential_rule" \
        "$unit" >"$DESTDIR$UNITDIR/$(basename "$unit")"
    chmod 0644 "$DESTDIR$UNITDIR/$(basename "$unit")"
done
install -m 0644 "$app/systemd/60-posterm-nfc.rules" "$DESTDIR$UDEVDIR/60-posterm-nfc.rules"
install -m 0644 "$app/systemd/posterm-nfc.conf" "$DESTDIR$MODPROBEDIR/posterm-nfc.conf"

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

if [ ! -e "$sealed" ] && [ ! -e "$plain" ]; then
    say "the service needs its root secret before it starts; on the terminal, as root:"
    say "  head -c 32 /dev/urandom | systemd-creds encrypt --name=posterm-root - $CONFDIR/credentials/posterm-root.cred"
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
