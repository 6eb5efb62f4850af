#!/usr/bin/env bash
# Single-node SLURM on localhost for gaitprep's cluster test (tests/test_slurm.py).
#
#   .ci/slurm_setup.sh [install]   apt-get install slurm-wlm + munge if missing (idempotent)
#   .ci/slurm_setup.sh start DIR   write DIR/slurm.conf, start munged, slurmctld, slurmd
#                                  (all state, sockets, logs and PID files under DIR) and
#                                  wait until the node is idle; prints `export SLURM_CONF=...`
#   .ci/slurm_setup.sh smoke DIR   submit one trivial sbatch job and wait for it
#   .ci/slurm_setup.sh stop DIR    stop the three daemons by their PID files in DIR
#
# Everything listens on localhost only; nothing in /etc is changed, but /run/slurm/conf is made a
# link to DIR while the cluster runs (see link_conf). Needs root (SlurmUser=root).
# Without slurmdbd `sacct` cannot work, so jobs are recorded by the jobcomp/filetxt plugin in
# DIR/jobcomp.txt and MinJobAge is long enough (300 s) for the Snakemake SLURM plugin to use
# `--slurm-status-command squeue` (it requires MinJobAge >= 3 x init-seconds-before-status-checks).
# Environment: SLURMCTLD_PORT (default 6817), SLURMD_PORT (6818), SLURM_GPUS (0; >0 declares that
# many fake `gpu` GRES on the node, no device files, so `--gpus=1` jobs can be scheduled),
# SLURM_CPUS and SLURM_MEM_MB (default: nproc and 80 % of RAM; the node may declare more than
# the machine has: SlurmdParameters=config_overrides, and task/none enforces no limits).
set -euo pipefail

cmd=${1:-install}
dir=${2:-}

need_dir() {
  if [[ -z "$dir" ]]; then
    echo "usage: $0 $cmd DIR" >&2
    exit 2
  fi
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
}

install() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null \
     && command -v sbatch >/dev/null && command -v munged >/dev/null; then
    echo "slurm already installed: $(slurmctld -V)"
    return 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
  echo "installed: $(slurmctld -V)"
}

write_conf() {
  local cpus mem_kb mem_mb gpus gres_line=""
  cpus=${SLURM_CPUS:-$(nproc)}
  mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  mem_mb=${SLURM_MEM_MB:-$(( mem_kb / 1024 * 8 / 10 ))}   # default: 80 % of the machine
  gpus=${SLURM_GPUS:-0}
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  if (( gpus > 0 )); then
    gres_line="Gres=gpu:$gpus"
    printf 'NodeName=localhost Name=gpu File=/dev/null Count=%s\n' "$gpus" > "$dir/gres.conf"
  else
    rm -f "$dir/gres.conf"
  fi
  cat > "$dir/slurm.conf" <<CONF
# written by .ci/slurm_setup.sh for a throw-away single-node test cluster
ClusterName=gaitprep-ci
SlurmctldHost=localhost
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
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
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=300
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/jobcomp.txt
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb $gres_line State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
PartitionName=batch Nodes=localhost MaxTime=INFINITE State=UP
CONF
}

link_conf() {
  # Snakemake's slurm-jobstep plugin strips SLURM_* (SLURM_CONF included) from the environment
  # of the `srun` it starts inside each job, so srun must find the configuration by itself:
  # /run/slurm/conf/ is where SLURM clients look after SLURM_CONF and /etc/slurm/slurm.conf
  # (the configless cache of slurmd). Refuse to shadow a real SLURM installation.
  if [[ -e /etc/slurm/slurm.conf ]]; then
    echo "refusing to start: /etc/slurm/slurm.conf exists (a real SLURM install?)" >&2
    exit 1
  fi
  mkdir -p /run/slurm
  if [[ -L /run/slurm/conf ]]; then
    rm -f /run/slurm/conf
  elif [[ -e /run/slurm/conf ]]; then
    echo "refusing to start: /run/slurm/conf exists and is not a link left by this script" >&2
    exit 1
  fi
  ln -s "$dir" /run/slurm/conf
}

unlink_conf() {
  if [[ -L /run/slurm/conf && "$(readlink /run/slurm/conf)" == "$dir" ]]; then
    rm -f /run/slurm/conf
  fi
}

alive() {  # alive PIDFILE -> 0 if the process in it runs
  [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

dead() {  # dead PIDFILE -> 0 if the file names a process that has ended (a daemon writes
          # its PID file a moment after it forks, so a missing file is not yet dead)
  [[ -s "$1" ]] && ! kill -0 "$(cat "$1")" 2>/dev/null
}

start() {
  need_dir
  write_conf
  link_conf
  export SLURM_CONF="$dir/slurm.conf"
  # munged with its own key, socket and PID file under DIR
  mkdir -p "$dir/munge"
  chmod 700 "$dir/munge"
  if [[ ! -s "$dir/munge/munge.key" ]]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 600 "$dir/munge/munge.key"
  fi
  if ! alive "$dir/munge/munged.pid"; then
    munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
      --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
      --seed-file="$dir/munge/munged.seed" </dev/null >>"$dir/log/daemons.out" 2>&1
  fi
  # the daemons must not hold the caller's stdout/stderr open (a capturing caller would wait)
  alive "$dir/slurmctld.pid" || slurmctld -i </dev/null >>"$dir/log/daemons.out" 2>&1
  alive "$dir/slurmd.pid" || slurmd -N localhost </dev/null >>"$dir/log/daemons.out" 2>&1
  # wait for the node to register as idle (or mixed/allocated after a restart)
  local state=""
  for _ in $(seq 60); do
    if dead "$dir/slurmctld.pid" || dead "$dir/slurmd.pid"; then
      state="a daemon exited"
      break
    fi
    state=$(timeout 5 sinfo -h -N -n localhost -o '%t' 2>/dev/null || true)
    [[ "$state" =~ ^(idle|mix|alloc) ]] && break
    sleep 0.5
  done
  if [[ ! "$state" =~ ^(idle|mix|alloc) ]]; then
    echo "slurm node not ready (state '$state'); logs in $dir/log" >&2
    tail -n 20 "$dir/log/daemons.out" "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    exit 1
  fi
  echo "export SLURM_CONF=$dir/slurm.conf"
}

smoke() {
  need_dir
  export SLURM_CONF="$dir/slurm.conf"
  local id state=""
  id=$(sbatch --parsable --job-name gaitprep-smoke --output "$dir/log/smoke-%j.out" \
       --ntasks=1 --cpus-per-task=1 --mem=100 --time=1 --wrap 'echo hello from $SLURM_JOB_ID')
  for _ in $(seq 60); do
    state=$(timeout 5 squeue -h -j "$id" --states=all -o '%T' 2>/dev/null || true)
    [[ "$state" == COMPLETED || "$state" == FAILED || "$state" == CANCELLED ]] && break
    sleep 0.5
  done
  echo "job $id: $state; $(cat "$dir/log/smoke-$id.out" 2>/dev/null)"
  [[ "$state" == COMPLETED ]]
}

stop() {
  need_dir
  local f pid
  if alive "$dir/slurmctld.pid"; then
    # cancel what is left (job steps outlive slurmd), then give them a moment to end
    SLURM_CONF="$dir/slurm.conf" timeout 10 scancel --full --user="$(id -un)" 2>/dev/null || true
    for _ in $(seq 20); do
      [[ -z "$(SLURM_CONF="$dir/slurm.conf" timeout 5 squeue -h -t R,CG,PD 2>/dev/null)" ]] && break
      sleep 0.5
    done
  fi
  for f in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    alive "$f" || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  done
  unlink_conf
  echo "stopped slurm in $dir"
}

case "$cmd" in
  install) install ;;
  start) start ;;
  smoke) smoke ;;
  stop) stop ;;
  *) echo "unknown command '$cmd' (install|start DIR|smoke DIR|stop DIR)" >&2; exit 2 ;;
esac
