#!/usr/bin/env bash
# Distributed training on one or more machines with torchrun:
#   tools/dist_train.sh CONFIG NPROC [train.py options]
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500), PYTHON (see find_python.sh). Works on GPUs (nccl, one process
# per GPU) and on CPU-only machines (gloo, NPROC processes).
exec bash "$(dirname "$0")/torchrun.sh" "$2" "$(dirname "$0")/train.py" \
    "$1" --launcher pytorch "${@:3}"
