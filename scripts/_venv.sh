# Sourced by the scripts: make .venv (once) and install the pinned requirements into it.
# REQUIREMENTS names the file to install (requirements.txt or requirements-dev.txt).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum requirements*.txt | sha256sum | cut -c1-16)-${REQUIREMENTS}"
if [ ! -f "$stamp" ]; then
  echo "==> installing $REQUIREMENTS"
  .venv/bin/pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  touch "$stamp"
fi
