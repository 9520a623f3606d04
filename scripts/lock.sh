#!/usr/bin/env bash
# Regenerates requirements.lock (`make lock`): what scripts/install.sh installs on a terminal,
# every package pinned with the sha256 of each of its files on the package index, so a terminal
# installs exactly these bytes (`pip install --require-hashes`) and never "the latest".
#
# Inputs: pyproject.toml's [project] dependencies (production only; simulator-only packages,
# listed in SIMULATOR_ONLY, are left out) and its [build-system] requires (install.sh builds
# posterm itself with them, offline, instead of fetching an unpinned setuptools as root).
# Resolved by pip-tools (pip-compile) in a throw-away venv for this Python (3.11 on Linux, as
# Debian 12 and Raspberry Pi OS ship), from the public index only: pip's local configuration
# (extra indexes, local wheel folders, constraints) is ignored so the hashes are those every
# terminal will see. Needs the network; tests/unit/test_requirements_lock.py checks the result
# offline.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PIP_TOOLS=${PIP_TOOLS:-pip-tools==7.5.3}
# pyemv builds test cards' cryptograms for the simulators; it is moving to the `sim` extra.
SIMULATOR_ONLY=${SIMULATOR_ONLY:-pyemv}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --disable-pip-version-check "$PIP_TOOLS" </dev/null

# requirements.in and the header's digest, from pyproject.toml (the test recomputes the digest).
SIMULATOR_ONLY="$SIMULATOR_ONLY" "$work/venv/bin/python" - "$work/requirements.in" <<'EOF'
import hashlib, os, sys, tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

project = tomllib.load(open("pyproject.toml", "rb"))
skip = {canonicalize_name(n) for n in os.environ["SIMULATOR_ONLY"].split()}
runtime = [r for r in project["project"]["dependencies"]
           if canonicalize_name(Requirement(r).name) not in skip]
build = list(project["build-system"]["requires"])
lines = sorted(str(Requirement(r)) for r in runtime + build)
digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
with open(sys.argv[1], "w") as out:
    out.write("\n".join(lines) + "\n")
with open(sys.argv[1] + ".digest", "w") as out:
    out.write(digest)
EOF

env -u PIP_FIND_LINKS -u PIP_CONSTRAINT -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL \
    PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" \
    "$work/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe --strip-extras \
    --no-emit-index-url --no-emit-find-links --annotation-style=line \
    --output-file "$work/requirements.lock" "$work/requirements.in" </dev/null

{
    echo "# posterm's production dependencies, pinned with hashes: scripts/install.sh runs"
    echo "#   pip install --require-hashes -r requirements.lock"
    echo "# Regenerate with \`make lock\` after changing pyproject.toml's [project] dependencies or"
    echo "# [build-system] requires; tests/unit/test_requirements_lock.py fails until then."
    echo "# simulator-only, not locked: $SIMULATOR_ONLY"
    echo "# pyproject-digest: sha256:$(cat "$work/requirements.in.digest")"
    echo "# top-level:"
    sed 's/^/#   /' "$work/requirements.in"
    echo "#"
    # pip-compile names the temporary input file; the top-level list above says the same.
    sed -e "s#-r $work/requirements.in#-r pyproject.toml#g" -e "s#$work/##g" \
        "$work/requirements.lock"
} >requirements.lock
echo "lock: wrote requirements.lock ($(grep -c '==' requirements.lock) pins)"
