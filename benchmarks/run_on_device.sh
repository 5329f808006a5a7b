#!/usr/bin/env bash
# How the GPU numbers in docs/eval.md were taken on a lent H100 (no network, no ffmpeg, PyTorch preinstalled).
# Wheels the machine lacks travel in .whl/ (lpips, pytorch-fid, python_speech_features, syncnet-python,
# imageio-ffmpeg for an ffmpeg binary); NIQE's model and LPIPS' heads in .bench/ (fetched here by make eval-weights).
# Usage there: benchmarks/run_on_device.sh OUT_DIR
set -euo pipefail
out="${1:?usage: run_on_device.sh OUT_DIR}"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
mkdir -p /tmp/bin
ln -sf "$(python3 -c 'import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())')" /tmp/bin/ffmpeg
export PATH="/tmp/bin:${PATH}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "${out}/gpu.txt"
mkdir -p /tmp/bench-weights/eval
cp .bench/niqe_pris_params.npz /tmp/bench-weights/eval/
python3 benchmarks/gpu_classic_speed.py --weights_dir /tmp/bench-weights 2>&1 | tee "${out}/gpu_classic.txt"
python3 benchmarks/eval_gpu.py --frames 1500 --size 512 --out "${out}/eval_gpu.json" 2>&1 | tail -n 60
