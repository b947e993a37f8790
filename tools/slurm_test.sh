#!/usr/bin/env bash
# Evaluation on a SLURM cluster:
#   [GPUS=8] tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [options]
# Environment: see tools/srun.sh.
exec bash "$(dirname "$0")/srun.sh" "$1" "$2" "$(dirname "$0")/test.py" \
    "$3" "$4" "${@:5}"
