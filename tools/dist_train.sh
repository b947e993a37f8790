#!/usr/bin/env bash
# Distributed training on one or more machines with torchrun:
#   tools/dist_train.sh CONFIG NPROC [train.py options]
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500), PYTHON (see find_python.sh). Works on GPUs (nccl, one process per GPU)
# and on CPU-only machines (gloo, NPROC processes).
set -e
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
. "$(dirname "$0")/find_python.sh"

PYTHONPATH="$REPO_ROOT":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
