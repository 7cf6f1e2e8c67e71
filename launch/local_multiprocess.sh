#!/usr/bin/env bash
# Multi-process training on ONE machine, the processes talking over loopback (CPU collectives).
#
#   launch/local_multiprocess.sh N CONFIG WORKDIR [--config.key=value ...]
#   launch/local_multiprocess.sh 2 configs/demo.py:smoke /tmp/run --config.log_every=1
#
# Starts N processes of `python -m xlmeta_jax.train --config=CONFIG --workdir=WORKDIR`, process i
# with --config.distributed.{coordinator_address=127.0.0.1:PORT,num_processes=N,process_id=i,
# local_device_count=LOCAL_DEVICES}. This is how multi-host code paths (per-process data shares,
# global batches from process-local data, process-0-only writes, multi-host checkpoints) are
# exercised without a cluster. The global batch is split evenly: batch sizes must divide by
# N * LOCAL_DEVICES (or by the mesh's data*fsdp size).
#
# Logs: WORKDIR/logs/process_I.log (process 0 also writes WORKDIR/metrics.jsonl as usual).
# Exit status: 0 when all processes succeed; otherwise the status of the first process that
# failed, after stopping the others (a process left alone would wait for its peers forever).
# SIGTERM/SIGINT are forwarded to every process (each saves a checkpoint and exits 75).
#
# Environment:
#   PYTHON         interpreter (default: python)
#   PORT           coordinator port (default: a free port on 127.0.0.1)
#   LOCAL_DEVICES  CPU devices per process (default 1)
#   JAX_PLATFORMS  default cpu, so that N processes do not all claim the same accelerator
set -euo pipefail

usage() { sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 3 ]] || usage
N=$1 CONFIG=$2 WORKDIR=$3
shift 3
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "error: N must be a positive integer, got '$N'" >&2; exit 2; }

PYTHON=${PYTHON:-python}
LOCAL_DEVICES=${LOCAL_DEVICES:-1}
export JAX_PLATFORMS=${JAX_PLATFORMS:-cpu}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # this checkout, even if not installed

if [[ -z "${PORT:-}" ]]; then
  PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi

mkdir -p "$WORKDIR/logs"
pids=()

stop_all() {  # $1: signal
  for pid in "${pids[@]}"; do kill "-$1" "$pid" 2>/dev/null || true; done
}
trap 'stop_all TERM' TERM
trap 'stop_all INT' INT

for ((i = 0; i < N; i++)); do
  "$PYTHON" -m xlmeta_jax.train --config="$CONFIG" --workdir="$WORKDIR" \
    --config.distributed.coordinator_address="127.0.0.1:$PORT" \
    --config.distributed.num_processes="$N" \
    --config.distributed.process_id="$i" \
    --config.distributed.local_device_count="$LOCAL_DEVICES" \
    "$@" >"$WORKDIR/logs/process_$i.log" 2>&1 &
  pids+=($!)
done
echo "local_multiprocess: $N processes (pids ${pids[*]}), coordinator 127.0.0.1:$PORT, logs in $WORKDIR/logs/" >&2

declare -A active  # pid -> process index
for ((i = 0; i < N; i++)); do active[${pids[$i]}]=$i; done
status=0
while ((${#active[@]} > 0)); do
  finished=""
  set +e
  wait -n -p finished "${!active[@]}"
  rc=$?
  set -e
  if [[ -z "$finished" ]]; then  # a forwarded signal interrupted wait: keep waiting for the processes
    continue
  fi
  i=${active[$finished]}
  unset "active[$finished]"
  if ((rc != 0 && status == 0)); then
    status=$rc
    echo "local_multiprocess: process $i failed (exit $rc); see $WORKDIR/logs/process_$i.log" >&2
    if ((rc != 75)); then stop_all KILL; fi  # 75 = preempted: the others are saving too, let them finish
  fi
done
exit "$status"
