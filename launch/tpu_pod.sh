#!/usr/bin/env bash
# Pretraining on a Cloud TPU VM slice (single host or pod) with gcloud.
#
#   launch/tpu_pod.sh [options] create                  create the TPU VM (every host of the slice)
#   launch/tpu_pod.sh [options] setup                   copy this checkout (git HEAD) to every worker, pip install it
#   launch/tpu_pod.sh [options] run CONFIG WORKDIR [--config.key=value ...]
#                                                       start training on all workers (in the background)
#   launch/tpu_pod.sh [options] logs [WORKER]           follow a worker's training log (default worker 0)
#   launch/tpu_pod.sh [options] delete                  delete the TPU VM
#
# Options (each also from the environment; flags win):
#   --name NAME               TPU_NAME              default xlmeta-pod
#   --zone ZONE               TPU_ZONE              default us-central2-b
#   --accelerator-type TYPE   TPU_ACCELERATOR_TYPE  default v4-32 (4 hosts); v4-8 is a single host
#   --version VERSION         TPU_VERSION           runtime image, default tpu-ubuntu2204-base
#   --project PROJECT         TPU_PROJECT           default: gcloud's configured project
#   --spot                    TPU_SPOT=1            spot capacity (can be preempted: rerun `run` to resume)
#   --dry-run                 DRY_RUN=1             print the commands instead of running them
#
# Example:
#   launch/tpu_pod.sh --name my-pod --zone us-central2-b --accelerator-type v4-32 create
#   launch/tpu_pod.sh --name my-pod setup
#   launch/tpu_pod.sh --name my-pod run configs/xlm_meta.py /mnt/shared/runs/base
#   launch/tpu_pod.sh --name my-pod logs
#   launch/tpu_pod.sh --name my-pod delete
#
# `run` starts `python3 -m xlmeta_jax.train` on every worker with
# --config.distributed.coordinator_address=auto: JAX finds the other hosts of the slice
# itself (xlmeta_jax/parallel/distributed.py). Each worker logs to ~/xlmeta_jax_train.log;
# only process 0 writes metrics. WORKDIR must be a folder every worker sees at the same path
# (a Filestore/NFS mount, or a bucket mounted with gcsfuse): the tokenizer written by process 0
# and the multi-host checkpoints are read and written there by all workers. Rerunning `run`
# with the same WORKDIR resumes from the latest checkpoint.
set -euo pipefail

NAME=${TPU_NAME:-xlmeta-pod}
ZONE=${TPU_ZONE:-us-central2-b}
ACCELERATOR_TYPE=${TPU_ACCELERATOR_TYPE:-v4-32}
VERSION=${TPU_VERSION:-tpu-ubuntu2204-base}
PROJECT=${TPU_PROJECT:-}
SPOT=${TPU_SPOT:-0}
DRY_RUN=${DRY_RUN:-0}
REMOTE_DIR='~/xlmeta_jax'       # expanded by the workers' shell
REMOTE_LOG='~/xlmeta_jax_train.log'
REMOTE_PYTHON=${REMOTE_PYTHON:-python3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

usage() { sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "tpu_pod.sh: $*" >&2; exit 2; }

args=()
while (($#)); do
  case $1 in
    --name) NAME=${2:?--name needs a value}; shift 2 ;;
    --zone) ZONE=${2:?--zone needs a value}; shift 2 ;;
    --accelerator-type) ACCELERATOR_TYPE=${2:?--accelerator-type needs a value}; shift 2 ;;
    --version) VERSION=${2:?--version needs a value}; shift 2 ;;
    --project) PROJECT=${2:?--project needs a value}; shift 2 ;;
    --name=*) NAME=${1#*=}; shift ;;
    --zone=*) ZONE=${1#*=}; shift ;;
    --accelerator-type=*) ACCELERATOR_TYPE=${1#*=}; shift ;;
    --version=*) VERSION=${1#*=}; shift ;;
    --project=*) PROJECT=${1#*=}; shift ;;
    --spot) SPOT=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) usage ;;
    *) args+=("$1"); shift ;;  # the subcommand, its arguments and --config.* overrides
  esac
done
((${#args[@]})) || usage
set -- "${args[@]}"
SUBCOMMAND=$1
shift

# One argument -> a shell word: bare if safe, else single-quoted.
quote() {
  if [[ $1 =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then printf '%s' "$1"; else printf "'%s'" "${1//\'/\'\\\'\'}"; fi
}

# Runs (or with --dry-run prints) one command.
do_cmd() {
  if [[ $DRY_RUN == 1 ]]; then
    local out="" a
    for a in "$@"; do out+="$(quote "$a") "; done
    echo "${out% }"
  else
    "$@"
  fi
}

common=(--zone="$ZONE")
[[ -n $PROJECT ]] && common+=(--project="$PROJECT")
tpu=(gcloud compute tpus tpu-vm)

case $SUBCOMMAND in
  create)
    (($# == 0)) || die "create takes no arguments"
    extra=()
    [[ $SPOT == 1 ]] && extra+=(--spot)
    do_cmd "${tpu[@]}" create "$NAME" "${common[@]}" --accelerator-type="$ACCELERATOR_TYPE" \
      --version="$VERSION" "${extra[@]}"
    ;;
  setup)
    (($# == 0)) || die "setup takes no arguments"
    tarball=${TMPDIR:-/tmp}/xlmeta_jax-src.tar.gz
    do_cmd git -C "$ROOT" archive --format=tar.gz --output="$tarball" HEAD
    do_cmd "${tpu[@]}" scp "$tarball" "$NAME:xlmeta_jax-src.tar.gz" "${common[@]}" --worker=all
    do_cmd "${tpu[@]}" ssh "$NAME" "${common[@]}" --worker=all --command="mkdir -p $REMOTE_DIR && \
tar -xzf ~/xlmeta_jax-src.tar.gz -C $REMOTE_DIR && $REMOTE_PYTHON -m pip install -q -U 'jax[tpu]' && \
$REMOTE_PYTHON -m pip install -q -e $REMOTE_DIR"
    ;;
  run)
    (($# >= 2)) || die "run needs CONFIG WORKDIR [--config.key=value ...]"
    for a in "${@:3}"; do [[ $a == --* ]] || die "run: '$a' is not an override; use --config.key=value"; done
    train="$REMOTE_PYTHON -m xlmeta_jax.train"
    for a in --config="$1" --workdir="$2" --config.distributed.coordinator_address=auto "${@:3}"; do
      train+=" $(quote "$a")"
    done
    # Background on every worker, detached from ssh; rerun `run` to resume after a stop.
    do_cmd "${tpu[@]}" ssh "$NAME" "${common[@]}" --worker=all \
      --command="cd $REMOTE_DIR && nohup $train > $REMOTE_LOG 2>&1 < /dev/null &"
    ;;
  logs)
    (($# <= 1)) || die "logs takes at most one argument, the worker index"
    do_cmd "${tpu[@]}" ssh "$NAME" "${common[@]}" --worker="${1:-0}" --command="tail -n 200 -F $REMOTE_LOG"
    ;;
  delete)
    (($# == 0)) || die "delete takes no arguments"
    do_cmd "${tpu[@]}" delete "$NAME" "${common[@]}" --quiet
    ;;
  *)
    die "unknown subcommand '$SUBCOMMAND'; use create, setup, run, logs or delete"
    ;;
esac
