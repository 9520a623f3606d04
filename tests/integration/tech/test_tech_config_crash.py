"""`posterm config set` killed mid-write leaves the old site file whole (real process)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

# Runs the real command; the moment it is about to rename the validated, fsync'd temporary
# file over the site file, the process kills itself with SIGKILL (no cleanup, no finally).
CRASHER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import terminal.cli._config_edit as edit
    site = Path(sys.argv[1]).absolute()
    real = os.replace
    def crash(src, dst):
        if Path(dst) == site:
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst)
    edit.os.replace = crash
    from terminal.cli import main
    sys.exit(main(["--config", str(site), "config", "set", "devices.printer", "loop://"]))
    """
)


def test_kill_between_write_and_rename_leaves_the_old_file_and_recovers(tmp_path: Path) -> None:
    site = tmp_path / "posterm.toml"
    site.write_text(
        f'# site\n[terminal]\ndata_dir = "{tmp_path / "data"}"\n\n[devices]\nprinter = "none"\n'
    )
    before = site.read_bytes()
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHER, str(site)], cwd=REPO, capture_output=True, timeout=60
    )
    assert crashed.returncode == -signal.SIGKILL
    assert site.read_bytes() == before
    stale = list(tmp_path.glob(".posterm.toml.*.tmp"))
    assert len(stale) == 1  # the new version was fully written before the kill
    assert b'printer = "loop://"' in stale[0].read_bytes()

    posterm = [sys.executable, "-m", "terminal", "--config", str(site)]
    done = subprocess.run(
        [*posterm, "config", "set", "devices.printer", "loop://"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    assert 'printer = "loop://"' in site.read_text()
    assert list(tmp_path.glob(".posterm.toml.*.tmp")) == []
    verify = subprocess.run(
        [*posterm, "audit", "verify"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # The crashed attempt was audited before the rename, the retry after: two records.
    assert "intact: 2 records" in verify.stdout


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to run the command as an unprivileged user",
)
@pytest.mark.parametrize("folder_mode", [0o755, 0o700])
def test_unprivileged_user_gets_a_sentence_not_a_traceback(folder_mode: int) -> None:
    # /etc/posterm as a technician without sudo meets it: readable, or not even traversable.
    # (pytest's tmp_path sits in folders private to root, so the test makes its own.)
    folder = Path(tempfile.mkdtemp(prefix="posterm-perm-"))
    try:
        site = folder / "posterm.toml"
        site.write_text('[devices]\nprinter = "none"\n')
        folder.chmod(folder_mode)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        command = ["config", "set", "devices.printer", "loop://"]
        done = subprocess.run(
            [*nobody, sys.executable, "-m", "terminal", "--config", str(site), *command],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "permission denied): run it as root" in done.stderr
        assert "Traceback" not in done.stderr
        assert site.read_text() == '[devices]\nprinter = "none"\n'
    finally:
        shutil.rmtree(folder)
