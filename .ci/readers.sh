#!/usr/bin/env bash
# Real readers against a running almanac (the demo): polars and pandas read a CSV series answer
# (and pyarrow and polars its Arrow and Parquet forms)
# and a CSV training frame straight from their URLs (polars' HTTP reader asks for byte ranges),
# pyarrow and polars read the frame as an Arrow IPC stream (types and field metadata checked),
# polars, pandas and pyarrow read a month's frame as Parquet from its URL (types, dictionary
# encoding and footer metadata checked), and the values are compared with the JSON answers;
# then a 2-year frame is loaded into pandas from JSON, Arrow and Parquet and the times printed.
# Pinned, in a virtualenv of their own.
#
#   .ci/readers.sh http://127.0.0.1:8080
set -euo pipefail
base_url="${1:?usage: .ci/readers.sh BASE_URL (the running demo)}"
pins=(polars==2.1.0 pandas==3.1.1 pyarrow==26.0.1)
venv="${READERS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/almanac/readers-polars-2.1.0-pyarrow-26}"
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
# The native series answer as Arrow and Parquet too, the time as UTC instants.
import pyarrow as pa
with urllib.request.urlopen(base + series + "&format=arrow") as r:
    assert r.headers["content-type"] == "application/vnd.apache.arrow.stream"
    native = pa.ipc.open_stream(r.read()).read_all()
assert native.column("temperature").to_pylist() == expected
assert native.schema.field("temperature").metadata[b"unit"] == "°C".encode()
assert str(native.schema.field("time").type) == "timestamp[s, tz=UTC]", native.schema
native_json = get_json(series)
assert [t.isoformat() for t in native.column("time").to_pylist()] == native_json["time"]
assert pl.read_parquet(base + series + "&format=parquet")["humidity"].to_list() == native_json["variables"]["humidity"]["values"]

frame = f"/api/v1/locations/madrid/frame?start={day}&end={day}&columns=weather.temperature,traffic.intensity,energy_price.pvpc,calendar.weekday"
answer = get_json(frame)
columns = {c["name"]: c["values"] for c in answer["columns"]}
by_polars = pl.read_csv(base + frame + "&format=csv")
by_pandas = pd.read_csv(base + frame + "&format=csv")
for name in ("weather.temperature", "traffic.intensity", "energy_price.pvpc", "calendar.weekday"):
    assert by_polars[name].to_list() == columns[name], name
    assert by_pandas[name].tolist() == columns[name], name

import pyarrow as pa
arrow_url = base + frame + "&format=arrow"
with urllib.request.urlopen(arrow_url) as r:
    assert r.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(r.read()).read_all()
assert str(table.schema.field("time").type) == "timestamp[s, tz=UTC]", table.schema
assert table.schema.field("weather.temperature").metadata[b"known_in_advance"] == b"false"
assert table.schema.field("calendar.weekday").metadata[b"known_in_advance"] == b"true"
assert table.schema.field("weather.temperature").metadata[b"unit"] == "°C".encode()
for name, values in columns.items():
    assert table.column(name).to_pylist() == values, name
assert pl.read_ipc_stream(arrow_url)["energy_price.pvpc"].to_list() == columns["energy_price.pvpc"]

# Parquet: a month (holidays and plain days, nulls), every column, by all three readers.
import io
import pyarrow.parquet as pq
month = f"/api/v1/locations/madrid/frame?start={day[:8]}01&end={day}"
by_month = get_json(month)
month_columns = {c["name"]: c["values"] for c in by_month["columns"]}
parquet_url = base + month + "&format=parquet"
with urllib.request.urlopen(parquet_url) as r:
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    file = pq.ParquetFile(io.BytesIO(r.read()))
table = file.read()
assert str(table.schema.field("time").type) == "timestamp[ms, tz=UTC]", table.schema
instants = [datetime.datetime.fromisoformat(t) for t in by_month["time"]]
assert table.column("time").to_pylist() == instants
assert table.column("local_time").to_pylist() == by_month["local_time"]
for name, values in month_columns.items():
    assert table.column(name).to_pylist() == values, name
chunks = file.metadata.row_group(0)
text = [i for i, f in enumerate(table.schema) if pa.types.is_string(f.type) and f.name != "local_time"]
assert "calendar.weekday" in {table.column_names[i] for i in text}
for i in text:
    assert "RLE_DICTIONARY" in chunks.column(i).encodings, (table.column_names[i], chunks.column(i).encodings)
metadata = table.schema.metadata
assert metadata[b"location"] == b"madrid" and metadata[b"timezone"] == b"Europe/Madrid", metadata
about = json.loads(metadata[b"almanac:columns"])
for c in by_month["columns"]:
    assert about[c["name"]] == {"unit": c.get("unit", ""), "known_in_advance": c["known_in_advance"],
                                "sources": c["sources"]}, (c["name"], about[c["name"]])
assert about["weather.temperature"]["unit"] == "°C" and about["calendar.weekday"]["known_in_advance"]
by_polars = pl.read_parquet(parquet_url)
assert by_polars.schema["time"] == pl.Datetime("ms", "UTC"), by_polars.schema
by_pandas = pd.read_parquet(parquet_url)
assert str(by_pandas["time"].dt.tz) == "UTC", by_pandas["time"].dtype
assert by_pandas["time"].tolist() == [pd.Timestamp(t) for t in instants]
for name, values in month_columns.items():
    assert by_polars[name].to_list() == values, name
    assert [None if pd.isna(v) else v for v in by_pandas[name].tolist()] == values, name
print(f"readers: polars {pl.__version__}, pandas {pd.__version__} and pyarrow {pa.__version__} read the "
      f"series and the frame of {day} from their URLs ({len(expected)} and {len(answer['time'])} rows; "
      f"CSV and Arrow), and the month's frame as Parquet ({len(instants)} rows, {len(month_columns)} columns, "
      f"text dictionary-encoded), equal to the JSON")

import time
end = datetime.date.today().replace(day=1) - datetime.timedelta(days=1)
start = end.replace(year=end.year - 2) + datetime.timedelta(days=1)
big = f"/api/v1/locations/madrid/frame?start={start}&end={end}"
def timed(load):
    best = None
    for _ in range(3):
        t = time.perf_counter()
        rows = load()
        best = min(best or 1e9, time.perf_counter() - t)
    return best, rows
def from_json():
    d = get_json(big)
    return len(pd.DataFrame({c["name"]: c["values"] for c in d["columns"]}, index=pd.to_datetime(d["time"])))
def from_arrow():
    with urllib.request.urlopen(base + big + "&format=arrow") as r:
        return len(pa.ipc.open_stream(r.read()).read_pandas())
def from_parquet():
    return len(pd.read_parquet(base + big + "&format=parquet"))
(j, rows), (a, _), (p, _) = timed(from_json), timed(from_arrow), timed(from_parquet)
def size(fmt):
    with urllib.request.urlopen(base + big + "&format=" + fmt) as r:
        return len(r.read()) / 1e6
print(f"a 2-year hourly frame ({rows} rows) into pandas, best of 3: JSON {j*1000:.0f} ms ({size('json'):.1f} MB), "
      f"Arrow {a*1000:.0f} ms ({j/a:.1f}x; {size('arrow'):.1f} MB), Parquet {p*1000:.0f} ms ({j/p:.1f}x; {size('parquet'):.1f} MB)")
PY
