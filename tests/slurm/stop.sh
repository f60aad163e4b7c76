#!/usr/bin/env bash
# Stop the daemons tests/slurm/start.sh started, by their PID files (newest first), then munged.
DIR="${KPBENCH_SLURM_DIR:-/tmp/kpbench-slurm}"
# MariaDB runs as user mysql and keeps its PID file where that user may write.
for pidfile in "$DIR/slurmd.pid" "$DIR/slurmctld.pid" "$DIR/slurmdbd.pid" /run/mysqld/mysqld.pid; do
    if [[ -s "$pidfile" ]]; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        rm -f "$pidfile"
    fi
done
if [[ -s /run/munge/munged.pid ]]; then
    kill "$(cat /run/munge/munged.pid)" 2>/dev/null || true
fi
