#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the tests and for trying `bench --executor slurm`.
#
#   scripts/slurm-local.sh start [DIR]   start munged, slurmctld and slurmd; print the export
#   scripts/slurm-local.sh stop [DIR]    end exactly the daemons `start` started (by pid)
#
# Needs root and Debian's slurm-wlm and munge (apt-get install -y slurm-wlm munge). Config,
# state, spool, logs and pid files live under DIR (default: $TMPDIR/sentibench-slurm); nothing
# under /etc is touched. Clients find the cluster through SLURM_CONF=DIR/slurm.conf (printed by
# start). No accounting daemon: sacct fails, which sentibench does not use.
set -euo pipefail

action=${1:-}
dir=${2:-${TMPDIR:-/tmp}/sentibench-slurm}

die() { echo "slurm-local: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

stop() {
  [ -d "$dir" ] || return 0
  for name in slurmd slurmctld munged; do
    pidfile="$dir/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if alive "$pid"; then
      kill "$pid"
      for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
      alive "$pid" && kill -9 "$pid"
    fi
    rm -f "$pidfile"
  done
}

start() {
  [ "$(id -u)" = 0 ] || die "needs root (munged, slurmctld and slurmd run as root here)"
  for tool in munged mungekey slurmctld slurmd sinfo python3; do
    command -v "$tool" >/dev/null || die "$tool not found; apt-get install -y slurm-wlm munge"
  done
  stop  # a previous cluster in the same folder
  mkdir -p "$dir"/{state,spool,log,munge}
  chmod 700 "$dir/munge"
  [ -f "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key" 2>/dev/null \
    || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 600 "$dir/munge/munge.key"
  munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed"

  host=$(hostname)
  cpus=$(nproc)
  mem_mb=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  cat >"$dir/slurm.conf" <<EOF
# written by scripts/slurm-local.sh: one node, this machine
ClusterName=sentibench-local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=5
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
DefMemPerCPU=$((mem_mb / cpus))
EOF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF" -N "$host"
  for _ in $(seq 100); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      echo "export SLURM_CONF=$SLURM_CONF"
      return 0
    fi
    sleep 0.2
  done
  tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  stop
  die "the node did not come up within 20 s (logs above)"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop [DIR]" ;;
esac
