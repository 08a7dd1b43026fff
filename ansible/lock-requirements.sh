#!/usr/bin/env bash
# Makes ansible/roles/relay/files/requirements.lock: every Python package the relay needs
# (pyproject.toml's dependencies, resolved), pinned to one version, with the sha256 of every file
# PyPI has for that version (all platforms: arm64 and amd64 wheels, every Python). The relay role
# installs exactly these with `pip install --require-hashes`, so a package swapped on the index or
# a mirror stops the install instead of running on the box.
#
#   ansible/lock-requirements.sh            # after changing dependencies in pyproject.toml
#
# Uses pip-tools (pip-compile) in its own throwaway virtualenv, against PyPI itself (not a local
# mirror, whose files may differ from PyPI's). Review the diff, then commit the lock file.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
lock=$here/roles/relay/files/requirements.lock
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT

python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install --quiet --disable-pip-version-check "pip-tools>=7.4,<8"
cp "$repo/pyproject.toml" "$tools/pyproject.toml"
# No pip config files: the lock must name PyPI's files.
PIP_CONFIG_FILE=/dev/null PIP_FIND_LINKS= PIP_EXTRA_INDEX_URL= "$tools/venv/bin/pip-compile" --quiet --generate-hashes --allow-unsafe \
    --strip-extras --no-header --no-emit-find-links --no-emit-index-url --index-url https://pypi.org/simple \
    --output-file "$tools/requirements.lock" "$tools/pyproject.toml"
{
    echo "# The relay's Python dependencies with their hashes, for \`pip install --require-hashes\`."
    echo "# Made by ansible/lock-requirements.sh from pyproject.toml; do not edit by hand."
    sed "s|$tools/pyproject.toml|pyproject.toml|g" "$tools/requirements.lock"
} > "$lock"
echo "wrote $lock ($(grep -c '^[a-z]' "$lock") packages)"
