#!/usr/bin/env bash
# Training on a SLURM cluster:
#   [GPUS=8] tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [options]
# Environment: see tools/srun.sh (GPUS_PER_NODE=0 trains on CPU).
exec bash "$(dirname "$0")/srun.sh" "$1" "$2" "$(dirname "$0")/train.py" \
    "$3" --work-dir="$4" "${@:5}"
