#!/usr/bin/env bash
# Distributed evaluation with torchrun:
#   tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py options]
# Environment as in tools/dist_train.sh.
exec bash "$(dirname "$0")/torchrun.sh" "$3" "$(dirname "$0")/test.py" \
    "$1" "$2" --launcher pytorch "${@:4}"
