#!/usr/bin/env bash
# The clients against a running almanac (the demo): the TypeScript types are regenerated from
# src/http/openapi.json with the pinned openapi-typescript and must equal the committed
# clients/typescript/schema.d.ts (the bakery seed's contract sync, automated); the typed example
# is compiled with tsc and run against the demo; the Python example (requests + pandas, pinned,
# in a virtualenv of its own) is run against it too.
#
#   .ci/clients.sh http://127.0.0.1:8080
set -euo pipefail
base_url="${1:?usage: .ci/clients.sh BASE_URL (the running demo)}"
root="$(cd "$(dirname "$0")/.." && pwd)"

cd "$root/clients/typescript"
npm ci --no-audit --no-fund --loglevel=error
generated="$(mktemp)"
trap 'rm -f "$generated"' EXIT
npx --no-install openapi-typescript ../../src/http/openapi.json -o "$generated" >/dev/null
if ! diff -u schema.d.ts "$generated"; then
  echo "clients/typescript/schema.d.ts is not what openapi.json generates: run \`npm run generate\` there and commit it" >&2
  exit 1
fi
npm run --silent build
node dist/example.js "$base_url"

pins=(pandas==3.1.1 requests==2.34.2)
venv="${CLIENTS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/almanac/clients-pandas-3.1.1-requests-2.34.2}"
if ! "$venv/bin/python" - "${pins[@]}" 2>/dev/null <<'PY'; then
import sys
from importlib.metadata import version
sys.exit(any(version(name) != wanted for name, wanted in (p.split("==") for p in sys.argv[1:])))
PY
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
fi
"$venv/bin/python" "$root/clients/python/example.py" "$base_url"
