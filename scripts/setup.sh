#!/usr/bin/env bash
# One-shot, idempotent set-up: Debian tools, a virtual environment, the project.
# Usage: scripts/setup.sh VENV_DIR APT_PACKAGE...
set -euo pipefail
venv="$1"; shift
packages=("$@")

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    if [[ $(id -u) -eq 0 ]]; then sudo=""
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"
    else
        echo "setup: need root or password-less sudo to install: ${missing[*]}" >&2
        echo "setup: install them yourself (apt-get install ${missing[*]}) and run make again" >&2
        exit 1
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setup: creating virtual environment in $venv"
    python3 -m venv "$venv"
fi
# torch first: on these machines pip takes a local CPU build for exactly this version;
# anything that asks for torch afterwards is satisfied by it instead of a CUDA build.
# (this machine's pip configuration warns about empty local index folders: hide only that noise)
# --no-compile: pip would byte-compile every file of every package (torch, transformers, scipy...)
# on one core; Python compiles the modules actually imported on first use instead.
quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
"$venv/bin/python" -c "import torch" 2>/dev/null || quiet "$venv/bin/pip" install -q --no-compile "torch==2.13.0"
quiet "$venv/bin/pip" install -q --no-compile -e .
echo "setup: done"
