#!/usr/bin/env bash
# Stop the one-node SLURM cluster that tests/cluster/start_slurm.sh started.
# Cancels every job first; stops slurmd, slurmctld and munged through their pid files.
# Leaves packages, configuration and state on disk (start_slurm.sh reuses them).
set -uo pipefail

TIMEOUT="${BIOMEDCLF_SLURM_TIMEOUT:-30}"
log() { echo "[stop_slurm] $*" >&2; }

stop_pidfile() {
    local name=$1 pidfile=$2
    [[ -s $pidfile ]] || return 0
    local pid
    pid=$(cat "$pidfile")
    # Only a running process of that name: the pid may have been reused since.
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]] || return 0
    log "stopping $name (pid $pid)"
    kill "$pid"
    local deadline=$((SECONDS + TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            log "$name did not exit within ${TIMEOUT}s; sending SIGKILL"
            kill -9 "$pid" 2>/dev/null
            break
        fi
        sleep 0.2
    done
}

if command -v scancel >/dev/null && scontrol ping >/dev/null 2>&1; then
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
fi
stop_pidfile slurmd /run/slurm/slurmd.pid
stop_pidfile slurmctld /run/slurm/slurmctld.pid
stop_pidfile munged /run/munge/munged.pid
log "stopped"
