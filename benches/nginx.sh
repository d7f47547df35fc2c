#!/usr/bin/env bash
# almanac's cached seed answers side by side with nginx serving the same bytes (issue 20's
# ceiling): 24 months of hourly Madrid weather loaded offline, the one-month and the 2-year
# answer fetched once and written to files nginx serves (one worker, sendfile, keep-alive),
# then `wrk -t2 -c8` for DURATION seconds (default 10) on each, alternated ROUNDS times
# (default 2). Prints requests/s, p50, p99 and almanac's share of nginx's requests/s.
#
#   bash benches/nginx.sh          # needs wrk and nginx (apt-get install wrk nginx-light)
#   BIN=/path/to/almanac bash benches/nginx.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
for tool in wrk nginx; do
    command -v $tool >/dev/null || { echo "$tool is needed: apt-get install wrk nginx-light" >&2; exit 2; }
done
if [ -z "${BIN:-}" ]; then
    cargo build --release --quiet
    BIN=target/release/almanac
fi
DIR=$(mktemp -d)
chmod 755 "$DIR"
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; [ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null; rm -rf "$DIR"' EXIT

export ALMANAC_LOG=warn
export ALMANAC__LOCATIONS__MADRID__SOURCES__TRAFFIC='[]'
export ALMANAC__LOCATIONS__ES_PENINSULAR__ENABLED=false
export ALMANAC__SCHEDULE__ENABLED=false
echo "loading 24 months of Madrid weather into $DIR ..."
"$BIN" --demo --data-dir "$DIR" init --months 24 >/dev/null
"$BIN" --data-dir "$DIR" serve --listen 127.0.0.1:18191 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:18191/health/live >/dev/null && break; sleep 0.1; done

END=$(date -u -d "$(date -u +%Y-%m-01) -1 day" +%F)
MONTH_START=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%F)
YEARS_START=$(date -u -d "$(date -u +%Y-%m-01) -24 month" +%F)
PATH_Q="/api/v1/tenants/8a7c9f5e-1b2d-4e3f-9a8b-7c6d5e4f3a2b/external/operations/historical-weather-optimized?latitude=40.4168&longitude=-3.7038"
mkdir -p "$DIR/www"
curl -sf -o "$DIR/www/1m.json" "http://127.0.0.1:18191$PATH_Q&start_date=$MONTH_START&end_date=$END"
curl -sf -o "$DIR/www/2y.json" "http://127.0.0.1:18191$PATH_Q&start_date=$YEARS_START&end_date=$END"
chmod -R a+r "$DIR/www"
cat >"$DIR/nginx.conf" <<CONF
worker_processes 1;
pid $DIR/nginx.pid;
error_log $DIR/nginx.error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    default_type application/json;
    etag on;
    server {
        listen 127.0.0.1:18192;
        root $DIR/www;
    }
}
CONF
nginx -c "$DIR/nginx.conf"
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:18192/1m.json && break; sleep 0.1; done

run() { # url -> "rps p50 p99"
    local out
    out=$(wrk -t2 -c8 -d"${DURATION}s" --latency "$1")
    printf '%s %s %s' "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
        "$(awk '$1 == "50%" {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
}
printf '%-4s %-6s %-8s %10s %9s %9s %8s\n' span round server "req/s" p50 p99 share
for span in 1m 2y; do
    if [ $span = 2y ]; then START=$YEARS_START; else START=$MONTH_START; fi
    ALMANAC="http://127.0.0.1:18191$PATH_Q&start_date=$START&end_date=$END"
    NGINX="http://127.0.0.1:18192/$span.json"
    curl -s -o /dev/null "$ALMANAC"
    for round in $(seq "$ROUNDS"); do
        read -r A_RPS A_P50 A_P99 <<<"$(run "$ALMANAC")"
        read -r N_RPS N_P50 N_P99 <<<"$(run "$NGINX")"
        SHARE=$(python3 -c "print(f'{$A_RPS / $N_RPS:.2f}x')")
        printf '%-4s %-6s %-8s %10s %9s %9s %8s\n' "$span" "$round" almanac "$A_RPS" "$A_P50" "$A_P99" "$SHARE"
        printf '%-4s %-6s %-8s %10s %9s %9s\n' "$span" "$round" nginx "$N_RPS" "$N_P50" "$N_P99"
    done
    echo "  ($span: $(stat -c %s "$DIR/www/$span.json") bytes)"
done
