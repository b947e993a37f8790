#!/usr/bin/env bash
# Evaluation on a SLURM cluster:
#   [GPUS=8] tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [options]
# Environment as in tools/slurm_train.sh.
set -x
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
. "$(dirname "$0")/find_python.sh"
PY_ARGS=${@:5}
if [ "$GPUS_PER_NODE" -gt 0 ]; then
    GRES="--gres=gpu:${GPUS_PER_NODE}"
    TASKS_PER_NODE=$GPUS_PER_NODE
else
    GRES=""
    TASKS_PER_NODE=${TASKS_PER_NODE:-1}
fi

PYTHONPATH="$REPO_ROOT":$PYTHONPATH \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    ${GRES} \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${TASKS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$(dirname "$0")/test.py" "${CONFIG}" "${CHECKPOINT}" \
    --launcher=slurm ${PY_ARGS}
