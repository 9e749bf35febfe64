#!/usr/bin/env bash
# Create the git-ignored venv bench/.venv-peer with the peer server the throughput benchmark
# compares against: faster-whisper-server 0.0.3 (PyPI), an OpenAI-compatible FastAPI server
# on faster-whisper. Idempotent; used by bench/peer_throughput.py.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv-peer"
python="${PYTHON:-python3}"
if [[ -x "$venv/bin/faster-whisper-server" || -f "$venv/.installed" ]]; then
    echo "peer venv ready: $venv"
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
"$venv/bin/pip" install --quiet "faster-whisper-server==0.0.3"
touch "$venv/.installed"
echo "peer venv ready: $venv"
