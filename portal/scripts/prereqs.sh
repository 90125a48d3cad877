#!/usr/bin/env bash
# Checks the system packages the portal needs on Debian 12 / Ubuntu 24.04: python3 (>= 3.11) with
# venv, Pango (WeasyPrint renders PDFs with it), fonts that cover every script a chat export may hold, and
# Node.js >= 18 with npm (front-end build).
# As root it installs what is missing with apt; otherwise it stops, printing the command to run.
set -euo pipefail

missing=()
python_ok=1
if ! command -v python3 >/dev/null 2>&1; then
  missing+=(python3); python_ok=0
elif ! python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "Python 3.11 or newer is needed; python3 is $(python3 --version 2>&1)." >&2
  exit 1
fi
if [ "$python_ok" = 1 ]; then
  tmp=$(mktemp -d)
  if ! python3 -m venv "$tmp/probe" >/dev/null 2>&1; then
    missing+=(python3-venv)
  fi
  rm -rf "$tmp"
fi
if ! ldconfig -p 2>/dev/null | grep -q 'libpango-1.0.so'; then missing+=(libpango-1.0-0); fi
if ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so'; then missing+=(libpangoft2-1.0-0); fi
# Bundles are set in Liberation Sans (metric-compatible with Arial); their page numbers embed it.
if ! ls /usr/share/fonts/truetype/liberation*/LiberationSans-Regular.ttf >/dev/null 2>&1; then
  missing+=(fonts-liberation)
fi
# A character no installed font covers would be drawn as an empty box (glyph 0, which PDF/A forbids):
# transcripts in bundles need Arabic, Hebrew, Cyrillic, Chinese/Japanese/Korean and emoji as well as Latin.
fonts=(
  "fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
  "fonts-noto-core:/usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf"
  "fonts-noto-core:/usr/share/fonts/truetype/noto/NotoSansHebrew-Regular.ttf"
  "fonts-noto-cjk:/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
  "fonts-noto-color-emoji:/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
)
for pair in "${fonts[@]}"; do
  package=${pair%%:*}
  if [ ! -e "${pair#*:}" ] && [[ " ${missing[*]} " != *" $package "* ]]; then missing+=("$package"); fi
done
node_major=0
if command -v node >/dev/null 2>&1; then node_major=$(node -p 'process.versions.node.split(".")[0]'); fi
if [ "$node_major" -lt 18 ]; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
command="apt-get update && apt-get install -y ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${missing[*]}" >&2
  echo "Run this, then run make again:" >&2
  echo "  sudo sh -c '$command'" >&2
  exit 1
fi
echo "Installing missing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
