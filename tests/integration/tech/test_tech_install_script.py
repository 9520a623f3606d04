"""`scripts/install.sh` (behind `make install`) into a staging root: the layout a terminal gets."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def install(root: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESTDIR": str(root), "INSTALL_VENV": "0", **extra}
    return subprocess.run(
        ["bash", str(REPO / "scripts/install.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_install_lays_out_app_config_state_units_rules(tmp_path: Path) -> None:
    done = install(tmp_path)
    assert done.returncode == 0, done.stderr
    app = tmp_path / "opt/posterm/app"
    assert (app / "terminal/cli/__init__.py").is_file()
    assert (app / "config/default.toml").is_file()
    assert not (app / ".venv").exists() and not (app / ".git").exists()
    config = tmp_path / "etc/posterm/posterm.toml"
    assert config.read_text() == (REPO / "config/examples/posterm.toml").read_text()
    assert mode(config) == 0o640 and mode(config.parent) == 0o750
    assert mode(tmp_path / "var/lib/posterm") == 0o750
    units = tmp_path / "etc/systemd/system"
    assert sorted(p.name for p in units.iterdir()) == ["posterm-kiosk.service", "posterm.service"]
    assert (tmp_path / "etc/udev/rules.d/60-posterm-nfc.rules").is_file()
    assert "blacklist pn533_usb" in (tmp_path / "etc/modprobe.d/posterm-nfc.conf").read_text()
    assert "sudo systemctl enable --now posterm" in done.stdout


def test_reinstall_keeps_the_sites_configuration(tmp_path: Path) -> None:
    assert install(tmp_path).returncode == 0
    config = tmp_path / "etc/posterm/posterm.toml"
    config.write_text('[terminal]\nterminal_id = "CAFE0042"\n')
    again = install(tmp_path)
    assert again.returncode == 0
    assert config.read_text() == '[terminal]\nterminal_id = "CAFE0042"\n'
    assert "keeping the existing /etc/posterm/posterm.toml" in again.stdout


def test_other_prefix_is_written_into_the_units(tmp_path: Path) -> None:
    assert install(tmp_path, PREFIX="/srv/pos", CONFDIR="/etc/pos").returncode == 0
    unit = (tmp_path / "etc/systemd/system/posterm.service").read_text()
    assert "ExecStart=/srv/pos/venv/bin/posterm --config /etc/pos/posterm.toml serve" in unit
    assert "/opt/posterm" not in unit


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze absent")
def test_installed_units_verify_in_the_installed_root(tmp_path: Path) -> None:
    assert install(tmp_path).returncode == 0
    binary = tmp_path / "opt/posterm/venv/bin/posterm"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    for unit in ("posterm.service", "posterm-kiosk.service"):
        done = subprocess.run(
            [
                "systemd-analyze",
                "verify",
                "--man=no",
                f"--root={tmp_path}",
                "--recursive-errors=no",
                f"/etc/systemd/system/{unit}",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0 and unit not in done.stderr, done.stderr


def test_refuses_a_system_install_without_root(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: the refusal cannot be observed")
    done = install(tmp_path, DESTDIR="", SYSTEM_SETUP="1")
    assert done.returncode == 1 and "run as root" in done.stderr


@pytest.mark.slow
def test_full_install_builds_a_venv_whose_posterm_runs(tmp_path: Path) -> None:
    done = install(tmp_path, INSTALL_VENV="1")
    assert done.returncode == 0, done.stderr[-2000:]
    posterm = tmp_path / "opt/posterm/venv/bin/posterm"
    check = subprocess.run(
        [str(posterm), "--config", str(tmp_path / "etc/posterm/posterm.toml"), "config", "check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
    assert str(tmp_path / "opt/posterm/app/config/default.toml") in check.stderr


# -- finding 3: what lands in /opt/posterm, and who owns it -----------------------------------

UNTRACKED = {
    "site.toml": '[ecr]\ntoken = "till-secret-0123456789"\n',  # a site file with the ECR token
    "sim-data/gateway-signing.jwk": '{"kty": "OKP", "d": "private"}\n',  # simulator keys
    "terminal/backdoor.py": "print('not from the repository')\n",  # code nobody reviewed
    "var/keys/machine-secret": "0123456789abcdef0123456789abcdef",  # ignored by .gitignore
    ".venv/bin/activate": "# a developer's venv\n",  # ignored too
}


def clone(tmp_path: Path, owner: int | None = 1000) -> Path:
    """A clone of this repository as a technician has it: this checkout's install files, some
    untracked and ignored files, all owned by an ordinary user."""
    source = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(source)], check=True, timeout=120)
    for tracked in ("scripts/install.sh", "requirements.lock", "config/examples/posterm.toml"):
        shutil.copy(REPO / tracked, source / tracked)
    shutil.copytree(REPO / "systemd", source / "systemd", dirs_exist_ok=True)
    for name, text in UNTRACKED.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    if owner is not None:
        subprocess.run(["chown", "-R", f"{owner}:{owner}", str(source)], check=True)
    return source


def install_from(source: Path, root: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESTDIR": str(root), "INSTALL_VENV": "0", **extra}
    return subprocess.run(
        ["bash", str(source / "scripts/install.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def tracked_files(source: Path) -> set[str]:
    listed = subprocess.run(
        ["git", "-c", f"safe.directory={source}", "-C", str(source), "ls-files", "-z"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {name for name in listed.split("\0") if name}


def test_only_tracked_files_are_installed_from_a_clone_owned_by_a_user(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the clone must belong to another user, as under sudo")
    source = clone(tmp_path)
    root = tmp_path / "root"
    done = install_from(source, root)
    assert done.returncode == 0, done.stderr
    app = root / "opt/posterm/app"
    installed = {str(p.relative_to(app)) for p in app.rglob("*") if not p.is_dir()}
    assert installed == tracked_files(source)
    for name in UNTRACKED:
        assert not (app / name).exists(), name
    assert not any("till-secret" in p.read_text(errors="replace") for p in app.rglob("*.toml"))


def test_installed_code_belongs_to_root_and_nobody_else_can_change_it(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the clone must belong to another user, as under sudo")
    source = clone(tmp_path)
    root = tmp_path / "root"
    assert install_from(source, root).returncode == 0
    app = root / "opt/posterm/app"
    paths = [app, *app.rglob("*")]
    assert len(paths) > 100
    for path in paths:
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (0, 0), path
        if stat.S_ISDIR(info.st_mode):
            assert mode(path) == 0o755, path
        elif stat.S_ISREG(info.st_mode):
            assert mode(path) in (0o644, 0o755), path
    for unit in (root / "etc/systemd/system").iterdir():
        assert unit.stat().st_uid == 0 and mode(unit) == 0o644


def test_an_upgrade_removes_what_an_older_install_left_in_the_app(tmp_path: Path) -> None:
    source = clone(tmp_path, owner=None)
    root = tmp_path / "root"
    assert install_from(source, root).returncode == 0
    leftover = root / "opt/posterm/app/site.toml"  # an older install.sh copied untracked files
    leftover.write_text('[ecr]\ntoken = "till-secret-0123456789"\n')
    assert install_from(source, root).returncode == 0
    assert not leftover.exists()
    assert (root / "opt/posterm/app/terminal/cli/__init__.py").is_file()


def test_a_tree_without_git_is_refused_and_nothing_is_copied(tmp_path: Path) -> None:
    unpacked = tmp_path / "posterm-tarball"
    source = clone(tmp_path, owner=None)
    shutil.copytree(source, unpacked, ignore=shutil.ignore_patterns(".git"))
    root = tmp_path / "root"
    done = install_from(unpacked, root)
    assert done.returncode == 1
    assert "is not a git clone of posterm: install from a clone" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (root / "opt/posterm/app").exists()


# -- finding 18: packages only from the lock file, hash-checked --------------------------------

FAKE_PYTHON = """#!/bin/bash
# Stands in for python3 and the venv's python: records every call, runs nothing from the index.
log="$FAKE_LOG"
echo "CALL $*" >>"$log"
if [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3/bin"; cp "$0" "$3/bin/python"; fi
if [ "$1" = -m ] && [ "$2" = pip ]; then
    previous=""
    for arg in "$@"; do
        if [ "$previous" = -r ]; then echo "FILE $arg" >>"$log"; cat "$arg" >>"$log"; fi
        previous=$arg
    done
fi
exit 0
"""


def test_pip_installs_only_the_lock_with_hashes_and_posterm_without_dependencies(
    tmp_path: Path,
) -> None:
    fake = tmp_path / "fake-python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    log = tmp_path / "calls.log"
    root = tmp_path / "root"
    done = install(root, INSTALL_VENV="1", PYTHON=str(fake), FAKE_LOG=str(log))
    assert done.returncode == 0, done.stderr
    calls = [line[5:].split() for line in log.read_text().splitlines() if line.startswith("CALL")]
    pip = [call for call in calls if call[:3] == ["-m", "pip", "install"]]
    assert len(pip) == 3, calls
    app = str(root / "opt/posterm/app")
    build_tools, everything, posterm = pip
    assert "--require-hashes" in build_tools and "--no-deps" in build_tools
    assert "--require-hashes" in everything and "--no-build-isolation" in everything
    assert everything[everything.index("-r") + 1] == f"{app}/requirements.lock"
    assert posterm[-3:] == ["--no-build-isolation", "-e", app] and "--no-deps" in posterm
    for call in pip:  # nothing named without a pin and a hash: every argument is an option or path
        assert all(arg.startswith(("-", "/")) or arg == "install" for arg in call[2:]), call
        assert "--upgrade" not in call and "-U" not in call
    text = log.read_text()
    tools = text.split("FILE ")[1].split("FILE ")[0]
    assert {line.split("==")[0] for line in tools.splitlines() if "==" in line} == {
        "packaging",
        "setuptools",
        "wheel",
    }
    assert tools.count("--hash=sha256:") >= 3


# -- the root secret credential ----------------------------------------------------------------

FAKE_CREDS = """#!/bin/bash
# Stands in for systemd-creds: records its arguments and the size of the secret it was given.
echo "$*" >>"$FAKE_LOG"
secret=$(head -c 64 | wc -c)
printf 'sealed %s bytes\\n' "$secret" >"${@: -1}"
"""


def test_install_seals_a_root_secret_once_with_systemd_creds(tmp_path: Path) -> None:
    fake = tmp_path / "systemd-creds"
    fake.write_text(FAKE_CREDS)
    fake.chmod(0o755)
    log = tmp_path / "creds.log"
    root = tmp_path / "root"
    extra = {"CREDENTIAL": "1", "SYSTEMD_CREDS": str(fake), "FAKE_LOG": str(log)}
    done = install(root, **extra)
    assert done.returncode == 0, done.stderr
    sealed = root / "etc/posterm/credentials/posterm-root.cred"
    assert sealed.read_text() == "sealed 32 bytes\n"
    assert mode(sealed) == 0o600 and mode(sealed.parent) == 0o700
    assert log.read_text().split() == ["encrypt", "--name=posterm-root", "-", f"{sealed}.tmp"]
    unit = (root / "etc/systemd/system/posterm.service").read_text()
    assert "LoadCredentialEncrypted=posterm-root:/etc/posterm/credentials/posterm-root.cred" in unit
    again = install(root, **extra)
    assert again.returncode == 0 and "keeping the existing root secret" in again.stdout
    assert len(log.read_text().splitlines()) == 1  # never replaced: it would lock the key store
    assert sealed.read_text() == "sealed 32 bytes\n"


def test_without_systemd_creds_the_secret_is_a_root_only_file_loaded_plainly(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    done = install(root, CREDENTIAL="1", SYSTEMD_CREDS=str(tmp_path / "absent"))
    assert done.returncode == 0, done.stderr
    plain = root / "etc/posterm/credentials/posterm-root"
    assert len(plain.read_bytes()) == 32 and mode(plain) == 0o600
    assert not str(plain).startswith(str(root / "var/lib/posterm"))  # not in the data directory
    for name in ("posterm.service", "posterm-kiosk.service"):
        unit = (root / "etc/systemd/system" / name).read_text()
        assert "LoadCredential=posterm-root:/etc/posterm/credentials/posterm-root\n" in unit
        assert "LoadCredentialEncrypted" not in unit


def test_a_staging_install_leaves_the_secret_to_the_terminal(tmp_path: Path) -> None:
    done = install(tmp_path)
    assert done.returncode == 0
    assert not (tmp_path / "etc/posterm/credentials").exists()
    assert "systemd-creds encrypt --name=posterm-root" in done.stdout
