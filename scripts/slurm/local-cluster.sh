#!/usr/bin/env bash
# A one-machine Slurm for trying the cluster path (and for the cluster test): munged, slurmctld and
# slurmd with every file (config, state, spool, sockets, pid files, logs) in one folder.
#
#   eval "$(scripts/slurm/local-cluster.sh start [DIR])"   # prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm/local-cluster.sh stop [DIR]               # default DIR: the folder of $SLURM_CONF
#
# Needs root (slurmd starts jobs) and the Debian packages slurmctld, slurmd, slurm-client and munge
# (scripts/setup-system.sh installs them). The daemons listen on free ports and talk through their
# own munge socket, so daemons left over from an earlier run (or a system Slurm) do not get in the
# way; daemons an earlier `start` left in the same DIR are stopped first. `stop` stops exactly the
# daemons whose pid files are in DIR, and only if they still are those daemons.
# Exit status: 0 done; 3 Slurm cannot run here (reason on stderr); 1 it failed to come up.
set -euo pipefail

die() { echo "local-cluster: $1" >&2; exit "${2:-1}"; }

# Stops the daemon whose pid file is $1 if it is still `$2` started with this folder's files.
stop_daemon() { # PIDFILE NAME DIR
  local pidfile=$1 name=$2 dir=$3 pid
  [[ -s $pidfile ]] || return 0
  pid=$(<"$pidfile")
  if [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/comm ]] && [[ $(</proc/"$pid"/comm) == "$name" ]] \
    && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$dir/"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      [[ -e /proc/$pid ]] || break
      sleep 0.1
    done
    if [[ -e /proc/$pid ]]; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
    echo "local-cluster: stopped $name (pid $pid)" >&2
  fi
  rm -f "$pidfile"
}

stop_all() { # DIR
  stop_daemon "$1/run/slurmd.pid" slurmd "$1"
  stop_daemon "$1/run/slurmctld.pid" slurmctld "$1"
  stop_daemon "$1/munge/munged.pid" munged "$1"
}

free_ports() { # prints two free TCP ports
  python3 - <<'EOF'
import socket
held = [socket.socket() for _ in range(2)]
for s in held:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
}

start() { # [DIR]
  [[ $(id -u) == 0 ]] || die "cannot start Slurm: needs root (slurmd runs the jobs); run as root" 3
  local missing=() command
  for command in munged munge unmunge slurmctld slurmd sbatch sinfo python3; do
    command -v "$command" >/dev/null || missing+=("$command")
  done
  ((${#missing[@]} == 0)) || die "cannot start Slurm: ${missing[*]} not installed (run scripts/setup-system.sh)" 3
  id munge >/dev/null 2>&1 || die "cannot start Slurm: no 'munge' user (reinstall the munge package)" 3
  [[ -r /etc/munge/munge.key ]] || die "cannot start Slurm: /etc/munge/munge.key is missing (reinstall munge)" 3

  local dir=${1:-}
  if [[ -z $dir ]]; then
    dir=$(mktemp -d /tmp/merit-slurm.XXXXXX)
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  stop_all "$dir" # daemons an earlier start left here
  chmod 755 "$dir"
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/munge"
  chown munge:munge "$dir/munge"
  chmod 755 "$dir/munge"

  local socket=$dir/munge/munge.socket
  runuser -u munge -- munged --socket="$socket" --pid-file="$dir/munge/munged.pid" \
    --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
    --key-file=/etc/munge/munge.key \
    || die "munged did not start: $(tail -n 3 "$dir/munge/munged.log" 2>/dev/null)"
  munge -n -S "$socket" | unmunge -S "$socket" >/dev/null \
    || { stop_all "$dir"; die "munge does not work: see $dir/munge/munged.log"; }

  local host ports ctld_port slurmd_port gres=""
  host=$(hostname -s)
  read -r ctld_port slurmd_port < <(free_ports)
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    local gpus
    gpus=$(nvidia-smi -L | grep -c '^GPU')
    if ((gpus > 0)); then
      gres=" Gres=gpu:$gpus"
      printf 'NodeName=%s Name=gpu File=/dev/nvidia[0-%d]\n' "$host" $((gpus - 1)) >"$dir/gres.conf"
    fi
  fi
  cat >"$dir/slurm.conf" <<EOF
ClusterName=merit-local
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
${gres:+GresTypes=gpu}
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$host CPUs=$(nproc)$gres State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -f "$SLURM_CONF" || { stop_all "$dir"; die "slurmctld did not start: see $dir/log/slurmctld.log"; }
  slurmd -f "$SLURM_CONF" || { stop_all "$dir"; die "slurmd did not start: see $dir/log/slurmd.log"; }
  local state=""
  for _ in $(seq 100); do
    state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
    [[ $state == idle ]] && break
    sleep 0.2
  done
  if [[ $state != idle ]]; then
    stop_all "$dir"
    die "the node did not become idle within 20 s (state '${state:-none}'): see $dir/log/"
  fi
  echo "local-cluster: Slurm is up in $dir (node $host, $(nproc) CPUs, controller port $ctld_port)" >&2
  echo "export SLURM_CONF=$SLURM_CONF"
}

case "${1:-}" in
  start) start "${2:-}" ;;
  stop)
    [[ -n ${2:-} || -n ${SLURM_CONF:-} ]] || die "stop which cluster? give its folder (the one start printed), or set SLURM_CONF" 2
    dir=${2:-$(dirname "$SLURM_CONF")}
    [[ -d $dir ]] || die "$dir is not a folder"
    stop_all "$(cd "$dir" && pwd)"
    ;;
  *) die "usage: $0 start [DIR] | stop [DIR]" 2 ;;
esac
