#!/usr/bin/env bash
# Training on a Slurm cluster with srun, one task per GPU.
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [tools/train.py arguments...]
# Environment: GPUS (total tasks, default 8), GPUS_PER_NODE (default 8),
# CPUS_PER_TASK (default 5), SRUN_ARGS (extra srun options), MASTER_PORT (default random).
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py arguments...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
WORK_DIR_ARGS=()
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
    WORK_DIR_ARGS=(--work-dir "$1")
    shift
fi
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
export MASTER_PORT=${MASTER_PORT:-$((12000 + RANDOM % 20000))}
TOOLS=$(cd "$(dirname "$0")" && pwd)

set -x
# SRUN_ARGS is split on spaces on purpose: it holds several srun options.
# shellcheck disable=SC2086
PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" --job-name="$JOB_NAME" --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE" --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 $SRUN_ARGS \
    python -u "$TOOLS/train.py" "$CONFIG" --launcher slurm \
    ${WORK_DIR_ARGS[@]+"${WORK_DIR_ARGS[@]}"} "$@"
