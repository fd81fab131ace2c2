# Shared set-up for scripts/run, scripts/test and scripts/bench (sourced, not run).
# Creates .venv with Python 3.11+, installs the project when pyproject.toml
# changed, and exports VG_PY / VG_BIN.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

pick_python() {
  for cand in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  echo "village_grid needs Python 3.11 or newer" >&2
  return 1
}

setup_venv() {
  local extra="${1:-}"
  if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv"
    "$(pick_python)" -m venv .venv
  fi
  VG_PY="$ROOT/.venv/bin/python"
  VG_BIN="$ROOT/.venv/bin"
  export VG_PY VG_BIN
  local stamp=".venv/.installed${extra:+-$extra}"
  local want
  want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "==> installing village_grid${extra:+ [$extra]}"
    "$VG_PY" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VG_PY" -m pip install --quiet --disable-pip-version-check -e ".${extra:+[$extra]}"
    echo "$want" > "$stamp"
  fi
}

# Debian packages: Pango for every PDF (WeasyPrint; scripts/run and scripts/test), and for
# the tests the browser, its Chinese font, QR decoding and poppler (pdffonts, pdftotext,
# pdftoppm). Installed when we are root and they are missing; otherwise PDFs answer that
# Pango is missing and those tests say why they skip.
setup_system_packages() {
  local need=() pkg wanted=(libpango-1.0-0 libpangoft2-1.0-0)
  [ "${1:-}" = "test" ] && wanted+=(chromium fonts-wqy-microhei libzbar0 poppler-utils)
  command -v dpkg-query >/dev/null 2>&1 || return 0
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing system packages: ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || echo "warning: could not install ${need[*]}" >&2
  else
    echo "note: missing ${need[*]} (install them for PDFs and the browser, QR and PDF tests)" >&2
  fi
}
