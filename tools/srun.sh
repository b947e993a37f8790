#!/usr/bin/env bash
# Shared by slurm_train.sh and slurm_test.sh: run SCRIPT as a SLURM job.
#   tools/srun.sh PARTITION JOB_NAME SCRIPT [script arguments]
# Environment: GPUS (8, total tasks), GPUS_PER_NODE (8), CPUS_PER_TASK (5),
# SRUN_ARGS (extra srun arguments), PYTHON (see find_python.sh). With
# GPUS_PER_NODE=0 no GPUs are requested and TASKS_PER_NODE (1) tasks per node
# train on CPU (gloo).
set -x
PARTITION=$1
JOB_NAME=$2
SCRIPT=$3
shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
. "$(dirname "$0")/find_python.sh"
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
    "$PYTHON" -u "$SCRIPT" "$@" --launcher=slurm
