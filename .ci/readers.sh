#!/usr/bin/env bash
# Real readers against a running almanac (the demo): polars and pandas read a CSV series answer
# and a CSV training frame straight from their URLs (polars' HTTP reader asks for byte ranges)
# and the values are compared with the JSON answers. Pinned, in a virtualenv of their own.
#
#   .ci/readers.sh http://127.0.0.1:8080
set -euo pipefail
base_url="${1:?usage: .ci/readers.sh BASE_URL (the running demo)}"
pins=(polars==2.1.0 pandas==3.1.1)
venv="${READERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/almanac/readers-polars-2.1.0}"
if ! "$venv/bin/python" - "${pins[@]}" 2>/dev/null <<'PY'; then
import sys
from importlib.metadata import version
sys.exit(any(version(name) != wanted for name, wanted in (p.split("==") for p in sys.argv[1:])))
PY
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
fi
"$venv/bin/python" - "$base_url" <<'PY'
import datetime, json, sys, urllib.request
import pandas as pd
import polars as pl

base = sys.argv[1]
day = (datetime.date.today().replace(day=1) - datetime.timedelta(days=1)).isoformat()
def get_json(path):
    with urllib.request.urlopen(base + path) as r:
        return json.load(r)

series = f"/api/v1/locations/madrid/weather?start={day}&end={day}&variables=temperature,humidity"
expected = get_json(series)["variables"]["temperature"]["values"]
csv_url = base + series + "&format=csv"
by_polars = pl.read_csv(csv_url)["temperature"].to_list()
by_pandas = pd.read_csv(csv_url)["temperature"].tolist()
assert by_polars == expected, (by_polars[:5], expected[:5])
assert by_pandas == expected, (by_pandas[:5], expected[:5])

frame = f"/api/v1/locations/madrid/frame?start={day}&end={day}&columns=weather.temperature,traffic.intensity,energy_price.pvpc,calendar.weekday"
answer = get_json(frame)
columns = {c["name"]: c["values"] for c in answer["columns"]}
by_polars = pl.read_csv(base + frame + "&format=csv")
by_pandas = pd.read_csv(base + frame + "&format=csv")
for name in ("weather.temperature", "traffic.intensity", "energy_price.pvpc", "calendar.weekday"):
    assert by_polars[name].to_list() == columns[name], name
    assert by_pandas[name].tolist() == columns[name], name
print(f"readers: polars {pl.__version__} and pandas {pd.__version__} read the series and the frame "
      f"of {day} from their URLs ({len(expected)} and {len(answer['time'])} rows), equal to the JSON")
PY
