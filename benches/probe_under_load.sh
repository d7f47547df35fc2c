#!/usr/bin/env bash
# Readiness under load on a cheap-looking endpoint: wrk keeps 16 connections on $2 (default
# /metrics) for 20 s while /health/ready is asked 100 times, one after the other; prints the
# load's own figures and readiness' p50/p99/max. Usage: benches/probe_under_load.sh HOST:PORT [PATH]
set -euo pipefail
base="http://$1"
path="${2:-/metrics}"
wrk -t2 -c16 -d20s --latency "$base$path" > /tmp/probe_load.txt &
load=$!
sleep 2
for _ in $(seq 1 100); do
  curl -s -o /dev/null -w '%{time_total}\n' "$base/health/ready"
  sleep 0.1
done | sort -n | awk '{ t[NR] = $1 * 1000 } END {
  printf "/health/ready under load: p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d requests)\n", t[int(NR*0.5)], t[int(NR*0.99)], t[NR], NR }'
wait "$load"
echo "load on $path:"; grep -E "Requests/sec|50%|99%" /tmp/probe_load.txt
