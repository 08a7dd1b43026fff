#!/usr/bin/env bash
# CI gate for ansible/: install the pinned tools (requirements.txt) into their own virtualenv, then
# `ansible-playbook --syntax-check` and `ansible-lint` (production profile). Exits non-zero on any
# finding. The virtualenv is kept apart from the project's own (default /tmp/ansible-venv; set
# ANSIBLE_VENV to move it); tests/ansible uses the same one.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv=${ANSIBLE_VENV:-/tmp/ansible-venv}

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

cd "$here"
export PATH="$venv/bin:$PATH"
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 NO_COLOR=1

echo "ansible/ci-lint.sh: syntax check"
ansible-playbook --syntax-check -i inventory/example/hosts.yml site.yml

echo "ansible/ci-lint.sh: ansible-lint (production profile)"
ansible-lint --profile production --offline site.yml roles
echo "ansible/ci-lint.sh: ok"
