#!/usr/bin/env bash
# Shared by dist_train.sh and dist_test.sh: run SCRIPT in NPROC processes per
# machine with torchrun.
#   tools/torchrun.sh NPROC SCRIPT [script arguments]
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500), PYTHON (see find_python.sh).
set -e
NPROC=$1
SCRIPT=$2
shift 2
. "$(dirname "$0")/find_python.sh"

PYTHONPATH="$REPO_ROOT":$PYTHONPATH \
"$PYTHON" -m torch.distributed.run \
    --nnodes="${NNODES:-1}" \
    --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" \
    --nproc_per_node="$NPROC" \
    --master_port="${PORT:-29500}" \
    "$SCRIPT" "$@"
