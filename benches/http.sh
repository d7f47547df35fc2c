#!/usr/bin/env bash
# The seed design's read workload against a release build, with wrk (apt-get install wrk):
# 24 months of hourly Madrid weather in a fresh SQLite store (loaded offline from the simulated
# upstream), then `wrk -t2 -c8` for DURATION seconds (default 15) on the seed endpoint, for the
# 2-year and the one-month request, from the cache and uncached (a second server with
# http.cache_mb = 0), identity and gzip. Prints requests/s, p50, p99 and each server's peak RSS.
#
#   bash benches/http.sh            # about 2.5 minutes after the build
#   DURATION=5 bash benches/http.sh
#   BIN=/path/to/almanac bash benches/http.sh   # another build (to compare two versions)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-15}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=target/release/almanac
fi
DIR=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$DIR"' EXIT

export ALMANAC_LOG=warn
export ALMANAC__LOCATIONS__MADRID__SOURCES__TRAFFIC='[]'
export ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED=false
export ALMANAC__SCHEDULE__ENABLED=false
echo "loading 24 months of Madrid weather into $DIR ..."
"$BIN" --demo --data-dir "$DIR" init --months 24 >/dev/null

serve() { # port cache_mb
    ALMANAC__HTTP__CACHE_MB=$2 "$BIN" --data-dir "$DIR" serve --listen "127.0.0.1:$1" &
    PIDS+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/health/live" >/dev/null && return; sleep 0.1; done
    echo "server on $1 did not start" >&2; exit 1
}
serve 18181 256
serve 18182 0
CACHED_PID=${PIDS[0]} UNCACHED_PID=${PIDS[1]}

# The last complete month and the 24 months before it, as the seed's clients ask (dates).
END=$(date -u -d "$(date -u +%Y-%m-01) -1 day" +%F)
MONTH_START=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%F)
YEARS_START=$(date -u -d "$(date -u +%Y-%m-01) -24 month" +%F)
PATH_Q="/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-weather-optimized?latitude=40.4168&longitude=-3.7038"

size() { curl -s -o /dev/null -w '%{size_download}' -H "Accept-Encoding: $2" "$1"; }
rows() { curl -s "$1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

printf '\n%-8s %-9s %-8s %10s %10s %9s %9s\n' request cache encoding bytes "req/s" p50 p99
for span in 2y 1m; do
    if [ $span = 2y ]; then START=$YEARS_START; else START=$MONTH_START; fi
    for cache in cached uncached; do
        if [ $cache = cached ]; then PORT=18181; else PORT=18182; fi
        URL="http://127.0.0.1:$PORT$PATH_Q&start_date=$START&end_date=$END"
        for encoding in identity gzip; do
            curl -s -o /dev/null -H "Accept-Encoding: $encoding" "$URL" # warm the cache
            OUT=$(wrk -t2 -c8 -d"${DURATION}s" --latency -H "Accept-Encoding: $encoding" "$URL")
            RPS=$(awk '/Requests\/sec/ {print $2}' <<<"$OUT")
            P50=$(awk '$1 == "50%" {print $2}' <<<"$OUT")
            P99=$(awk '$1 == "99%" {print $2}' <<<"$OUT")
            ERRORS=$(grep -E 'Non-2xx|Socket errors' <<<"$OUT" || true)
            printf '%-8s %-9s %-8s %10s %10s %9s %9s %s\n' "$span" "$cache" "$encoding" \
                "$(size "$URL" "$encoding")" "$RPS" "$P50" "$P99" "$ERRORS"
        done
    done
    echo "  ($span: $(rows "http://127.0.0.1:18181$PATH_Q&start_date=$START&end_date=$END") rows)"
done
peak() { awk '/VmHWM/ {printf "%.1f MB", $2 / 1024}' "/proc/$1/status"; }
echo
echo "peak RSS: cached server $(peak "$CACHED_PID"), uncached server $(peak "$UNCACHED_PID")"
