#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine, for tests/cluster/test_slurm.py.
#
#   sudo bash tests/cluster/start_slurm.sh      # as root (CI runs as root)
#
# What it does, each step skipped when already done (safe to run again):
#   1. installs Debian's slurmctld, slurmd, slurm-client and munge if `slurmctld` is missing;
#   2. writes /etc/slurm/slurm.conf: one node with this machine's CPUs and memory, one default
#      partition, select/cons_tres, proctrack/linuxproc, task/none, no accounting database.
#      Job records: MinJobAge=300 keeps finished jobs visible to `squeue` (so the Snakemake
#      SLURM plugin can poll with `--slurm-status-command squeue`), and jobcomp/filetxt writes
#      one line per finished job to /var/log/slurm/jobcomp.log (the test reads it);
#   3. starts munged, slurmctld and slurmd as plain background daemons (no systemd);
#   4. waits (bounded) until `sinfo` reports the node idle.
# Stop with tests/cluster/stop_slurm.sh.
#
# Settings (environment): BIOMEDCLF_SLURM_PARTITION (default "debug"),
# BIOMEDCLF_SLURM_TIMEOUT seconds to wait for each daemon (default 60).
set -euo pipefail

PARTITION="${BIOMEDCLF_SLURM_PARTITION:-debug}"
TIMEOUT="${BIOMEDCLF_SLURM_TIMEOUT:-60}"
CONF=/etc/slurm/slurm.conf
MARKER="# written by biomedclf tests/cluster/start_slurm.sh"
STATE=/var/lib/slurm
LOGDIR=/var/log/slurm
RUNDIR=/run/slurm

log() { echo "[start_slurm] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.5 s until it succeeds
# (false after SECONDS; DESCRIPTION only documents the call).
wait_for() {
    local limit=$1
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.5
    done
}

# pid_alive PIDFILE NAME: the pid file names a running process called NAME (not a reused pid).
pid_alive() {
    local pid
    [[ -s $1 ]] && pid=$(cat "$1") && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$2" ]]
}

[[ $(id -u) -eq 0 ]] || die "run as root (it installs packages and starts daemons)"
start=$SECONDS

# 1. Packages ----------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurmctld slurmd slurm-client munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

# 2. Munge key and slurm.conf --------------------------------------------------------------------
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    fi
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key

install -d -m 0755 /etc/slurm "$STATE" "$STATE/slurmctld" "$STATE/slurmd" "$LOGDIR" "$RUNDIR"

NODE=$(hostname -s)
CPUS=$(nproc)
# Leave 5% of the memory to the system; slurmd drains a node that claims more than it has.
MEM_MB=$(awk '/^MemTotal:/ {print int($2 / 1024 * 0.95)}' /proc/meminfo)

new_conf=$(
    cat <<EOF
$MARKER
# One-node test cluster: this machine ($CPUS CPUs, $MEM_MB MB for jobs). Not for production.
ClusterName=biomedclf
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
ReturnToService=2
# Finished jobs stay visible to squeue/scontrol this long (the plugin's squeue polling needs
# at least 3x its first status-check delay, and 120 s at the plugin's default).
MinJobAge=300
KillWait=5
InactiveLimit=0
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGDIR/jobcomp.log
StateSaveLocation=$STATE/slurmctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$RUNDIR/slurmctld.pid
SlurmdPidFile=$RUNDIR/slurmd.pid
SlurmctldLogFile=$LOGDIR/slurmctld.log
SlurmdLogFile=$LOGDIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)

conf_changed=0
if [[ ! -f $CONF ]] || [[ "$(cat "$CONF")" != "$new_conf" ]]; then
    if [[ -f $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
        backup="$CONF.bak.$(date +%s)"
        log "keeping the existing $CONF (not ours) as $backup"
        cp -p "$CONF" "$backup"
    fi
    printf '%s\n' "$new_conf" >"$CONF"
    conf_changed=1
    log "wrote $CONF (node $NODE: $CPUS CPUs, $MEM_MB MB; partition $PARTITION)"
fi

# 3. Daemons -----------------------------------------------------------------------------------
if ! pid_alive /run/munge/munged.pid munged; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged
fi
wait_for "$TIMEOUT" munge bash -c 'munge -n | unmunge' \
    || die "munged did not answer within ${TIMEOUT}s; see /var/log/munge/munged.log"

if ((conf_changed)); then
    # A running daemon still has the old configuration: restart it.
    for d in slurmd slurmctld; do
        if pid_alive "$RUNDIR/$d.pid" "$d"; then
            pid=$(cat "$RUNDIR/$d.pid")
            log "configuration changed: stopping $d (pid $pid)"
            kill "$pid"
            wait_for "$TIMEOUT" "$d exit" bash -c "! kill -0 $pid" \
                || die "$d did not exit within ${TIMEOUT}s"
        fi
    done
fi

if ! pid_alive "$RUNDIR/slurmctld.pid" slurmctld; then
    log "starting slurmctld"
    slurmctld
fi
wait_for "$TIMEOUT" slurmctld scontrol ping \
    || die "slurmctld did not answer within ${TIMEOUT}s; see $LOGDIR/slurmctld.log"

if ! pid_alive "$RUNDIR/slurmd.pid" slurmd; then
    log "starting slurmd"
    slurmd
fi

# 4. Node ready --------------------------------------------------------------------------------
node_state() { sinfo -h -N -n "$NODE" -o %t 2>/dev/null | head -n1; }
node_idle() { [[ $(node_state) =~ ^(idle|mix|alloc)$ ]]; }
if ! wait_for "$TIMEOUT" "node idle" node_idle; then
    # A node left down or drained by an earlier run (state is kept in $STATE): resume it once.
    log "node $NODE is '$(node_state)'; resuming it"
    scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
    wait_for "$TIMEOUT" "node idle" node_idle \
        || die "node $NODE is '$(node_state)' after ${TIMEOUT}s; see $LOGDIR/slurmd.log and 'scontrol show node $NODE'"
fi

log "SLURM is up in $((SECONDS - start))s: partition $PARTITION, node $NODE ($(node_state))"
sinfo
