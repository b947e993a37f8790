# Sourced by the launch scripts: sets REPO_ROOT and PYTHON, the interpreter
# to run: $PYTHON if set, else the active virtualenv's python, else the
# repository's .venv (made by `make`), else python on PATH.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${PYTHON:-}" ]; then
    if [ -n "${VIRTUAL_ENV:-}" ] || [ ! -x "$REPO_ROOT/.venv/bin/python" ]; then
        PYTHON=python
    else
        PYTHON="$REPO_ROOT/.venv/bin/python"
    fi
fi
