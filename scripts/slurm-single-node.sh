#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for the SLURM test and for trying the
# profile by hand: `scripts/slurm-single-node.sh up`, then `... down`. Needs root; installs
# Debian's slurmctld, slurmd and munge (SLURM 22.05 on Debian 12) when they are missing.
#
# The config goes to /etc/slurm/slurm.conf (job steps inside a job find it only there) marked
# as ours; a host whose slurm.conf is not ours is a real SLURM host and is left alone. `down`
# removes it again, so a stray `scontrol` fails at once instead of retrying a dead controller for
# 9 s (Snakemake's SLURM plugin runs one every time Snakemake starts).
#
# No systemd here: the daemons are started in their own sessions and stopped by PID. The
# config follows design/SLURM-NOTES: one node as `slurmd -C` describes it, all on 127.0.0.1,
# one default partition, no accounting database (so Snakemake's plugin must use
# `--slurm-status-command squeue`), and MinJobAge long enough that finished jobs stay in squeue
# until the plugin has seen them.
set -euo pipefail

STATE=${SLURM_TEST_STATE:-/tmp/lstm-odyssey-slurm}
SLURM_CONF=/etc/slurm/slurm.conf
MARK="# written by lstm-odyssey scripts/slurm-single-node.sh"

ours() { [ ! -e "$SLURM_CONF" ] || head -1 "$SLURM_CONF" | grep -qF "$MARK"; }

need_root() {
  if [ "$(id -u)" != 0 ]; then echo "must run as root" >&2; exit 2; fi
}

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return
  fi
  command -v apt-get >/dev/null || { echo "no apt-get: install slurmctld slurmd munge yourself" >&2; exit 2; }
  # keep the packages from starting daemons at install time (there is no init system to ask)
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

write_config() {
  if ! ours; then
    echo "$SLURM_CONF exists and is not ours: this host has its own SLURM; not touching it" >&2
    exit 2
  fi
  mkdir -p "$STATE"/{ctld,d} "$(dirname "$SLURM_CONF")"
  local node
  node=$(slurmd -C | head -1)
  cat > "$SLURM_CONF" <<CONF
$MARK
ClusterName=odyssey
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
MinJobAge=600
SchedulerType=sched/backfill
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
}

start_daemons() {
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown munge:munge /etc/munge/munge.key
  chmod 0400 /etc/munge/munge.key
  setsid runuser -u munge -- munged --foreground > "$STATE/munged.log" 2>&1 &
  echo $! > "$STATE/munged.pid.own"
  for _ in $(seq 50); do [ -S /run/munge/munge.socket.2 ] && break; sleep 0.1; done
  setsid slurmctld -D -s > "$STATE/slurmctld.out" 2>&1 &
  echo $! > "$STATE/slurmctld.pid.own"
  setsid slurmd -D -s > "$STATE/slurmd.out" 2>&1 &
  echo $! > "$STATE/slurmd.pid.own"
  for _ in $(seq 150); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then
      echo "SLURM up: $(sinfo -h -o '%P %D %t %c' | head -1)"
      return
    fi
    sleep 0.2
  done
  echo "SLURM did not come up; logs in $STATE" >&2
  tail -5 "$STATE"/slurmctld.log "$STATE"/slurmd.log >&2 || true
  exit 1
}

stop_daemons() {
  for daemon in slurmd slurmctld munged; do
    if [ -f "$STATE/$daemon.pid.own" ]; then
      kill "$(cat "$STATE/$daemon.pid.own")" 2>/dev/null || true
      rm -f "$STATE/$daemon.pid.own"
    fi
  done
  sleep 1
  rm -f "$STATE"/*.pid
  if ours; then rm -f "$SLURM_CONF"; fi
}

case "${1:-}" in
  up) need_root; install_packages; stop_daemons; write_config; start_daemons ;;
  down) need_root; stop_daemons ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
