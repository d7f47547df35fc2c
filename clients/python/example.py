"""almanac from Python: the cities, then a month of Madrid's hourly weather as a pandas frame
(almanac's columnar answer), and the seed's traffic answer for a tenant.

    python example.py http://127.0.0.1:8080        (needs requests and pandas)
"""
import datetime
import sys

import pandas as pd
import requests

base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"

cities = requests.get(f"{base}/api/v1/external/cities", timeout=30)
cities.raise_for_status()
print(f"{len(cities.json())} cities:", ", ".join(c["name"] for c in cities.json()))

# Last month, whole: almanac's native answer is columnar (`time` and one array per variable).
last = datetime.date.today().replace(day=1) - datetime.timedelta(days=1)
first = last.replace(day=1)
answer = requests.get(
    f"{base}/api/v1/locations/madrid/weather",
    params={"start": first.isoformat(), "end": last.isoformat(), "variables": "temperature,humidity"},
    timeout=60,
)
answer.raise_for_status()
body = answer.json()
frame = pd.DataFrame(
    {name: column["values"] for name, column in body["variables"].items()},
    index=pd.to_datetime(body["time"], utc=True).tz_convert("Europe/Madrid"),
)
print(f"{len(frame)} hours of {first:%B %Y} in Madrid; local daily means:")
print(frame.resample("D").mean().round(1).head())
assert len(frame) >= 24 * 28, len(frame)

# The same as CSV, straight into pandas.
csv = pd.read_csv(answer.url + "&format=csv", parse_dates=["time"])
assert len(csv) == len(frame), (len(csv), len(frame))

# The seed's traffic answer for a tenant (its own detectors once registered, else the city's).
traffic = requests.get(
    f"{base}/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-traffic-optimized",
    params={"latitude": 40.4168, "longitude": -3.686, "start_date": last.isoformat(), "end_date": last.isoformat()},
    timeout=60,
)
traffic.raise_for_status()
rows = pd.DataFrame(traffic.json())
print(
    f"{len(rows)} quarter hours of traffic on {last} from {traffic.headers.get('x-almanac-traffic-location')}; "
    f"mean volume {rows['traffic_volume'].mean():.0f} vehicles/h"
)
