#!/usr/bin/env bash
# Throughput of `herald route` (issue #4): 1,000,000 generated MonProfil events through the
# example rule set, log on, fresh database each run, release build.
#
#   scripts/bench_route.sh                 # 1,000,000 events, 3 runs, log on disk and on tmpfs
#   COUNT=200000 RUNS=5 scripts/bench_route.sh
#   DB_DIRS="/var/tmp" scripts/bench_route.sh
#
# Environment:
#   COUNT    events to generate (default 1000000)
#   SEED     generator seed (default 42)
#   RUNS     runs per database location (default 3)
#   WORK     where the events file and the disk database go (default target/bench-route)
#   DB_DIRS  database directories to compare (default: "$WORK" and /dev/shm when it exists)
#
# For each run it prints the wall-clock time, the CPU time (user + system) and events/s for
# both. Events per CPU-second is the figure to compare across machines: it is what one core
# does, whatever else the machine is busy with. Wall-clock events/s includes waiting for the
# disk (every batch of 4096 events is one transaction, committed with fsync) and for the CPU
# when the machine is shared. Decisions go to /dev/null; the input file is read once before
# the runs so that it comes from the page cache.
set -euo pipefail

cd "$(dirname "$0")/.."
COUNT=${COUNT:-1000000}
SEED=${SEED:-42}
RUNS=${RUNS:-3}
WORK=${WORK:-target/bench-route}
NOW=2026-01-31T09:30:00Z
RULES=examples/monprofil/rules

mkdir -p "$WORK"
if [[ -z "${DB_DIRS:-}" ]]; then
    DB_DIRS="$WORK"
    [[ -d /dev/shm && -w /dev/shm ]] && DB_DIRS="$DB_DIRS /dev/shm"
fi

echo "building (release)..." >&2
cargo build --quiet --release --bin herald --example gen_events
HERALD=target/release/herald

EVENTS="$WORK/events-$COUNT-$SEED.jsonl"
if [[ ! -s "$EVENTS" ]]; then
    echo "generating $COUNT events (seed $SEED) into $EVENTS..." >&2
    target/release/examples/gen_events --count "$COUNT" --seed "$SEED" > "$EVENTS.tmp"
    mv "$EVENTS.tmp" "$EVENTS"
fi
cat "$EVENTS" > /dev/null # warm the page cache

echo "herald route: $COUNT events ($(du -hL "$EVENTS" | cut -f1)), rules $RULES, log on, $(nproc) CPU(s)"
echo "machine: $(uname -srm); load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
printf '%-40s %4s %9s %9s %12s %12s %9s\n' "database" "run" "wall s" "cpu s" "events/s" "events/cpu-s" "printed"
for dir in $DB_DIRS; do
    db="$dir/herald-bench-$$.db"
    for run in $(seq 1 "$RUNS"); do
        rm -f "$db" "$db-wal" "$db-shm"
        out=$(mktemp)
        TIMEFORMAT='%R %U %S'
        { time "$HERALD" route --rules "$RULES" --events "$EVENTS" --db "$db" --now "$NOW" \
            > "$out" 2> "$out.err"; } 2> "$out.time" || {
            echo "herald route failed:" >&2
            cat "$out.err" >&2
            exit 1
        }
        read -r wall user sys < "$out.time"
        printed=$(wc -l < "$out")
        awk -v d="$db" -v r="$run" -v w="$wall" -v u="$user" -v s="$sys" -v n="$COUNT" -v p="$printed" \
            'BEGIN { c = u + s; printf "%-40s %4d %9.2f %9.2f %12.0f %12.0f %9d\n", d, r, w, c, n / w, n / c, p }'
        rm -f "$out" "$out.err" "$out.time"
    done
    rm -f "$db" "$db-wal" "$db-shm"
done
