#!/usr/bin/env bash
# Installs what the browser tests (apps/web/tests/test_browser.py) need: Debian's chromium, a
# Korean font, and Playwright for Python (pinned in requirements-dev.txt). Idempotent: installs
# only what is missing. Playwright's own browser download is not used (it does not work on these
# machines): the tests launch /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ] || ! dpkg -s fonts-nanum >/dev/null 2>&1; then
  echo "==> installing chromium and fonts-nanum (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # fonts-nanum: Korean glyphs, so the Korean pages read right in the screenshots.
  apt-get install -y -qq chromium fonts-nanum >/dev/null
fi
REQUIREMENTS=requirements-dev.txt
source scripts/_venv.sh
# (Debian's launcher script prints a harmless shell warning on stderr.)
/usr/bin/chromium --version 2>/dev/null
.venv/bin/python -c "import importlib.metadata as m; print('playwright for Python', m.version('playwright'))"
