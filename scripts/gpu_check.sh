#!/usr/bin/env bash
# The CUDA checks issue 5 owes, as one run on a GPU machine (about 6 minutes on an H100/H200).
#
#     bash scripts/gpu_check.sh OUT_DIR
#
# Needs python3 with torch (CUDA), numpy, opencv-python-headless, pillow and tqdm; no Qt (the
# core and the CLI never import it), no install (runs from the checkout). Writes into OUT_DIR:
# env.txt (GPU, driver, torch), demo.txt + demo_run/ (the demo attack end to end on the GPU),
# bench.txt + bench.json (the paper's U-Net at 572 x 572: published loop, engine, floor, at
# strict fp32, TF32 and bf16, B = 1 and B = 8, in one process; adv-lib's asma too when .bench-deps
# holds it: run scripts/adv_lib_env.sh here and carry .bench-deps), and core.txt (the core tests,
# which must pass on a GPU machine too). Every step runs even if an earlier one failed.
set -u
out=${1:?usage: bash scripts/gpu_check.sh OUT_DIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
if [ -d .bench-deps/site ]; then  # adv-lib for the bench's adv-lib line: scripts/adv_lib_env.sh, then carry .bench-deps
    PYTHONPATH="$PYTHONPATH:$PWD/.bench-deps/site:$PWD/.bench-deps/stand-ins"
fi
device=${DEVICE:-cuda}  # e.g. DEVICE=cuda:1
status=0

{
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, \
'cudnn', torch.backends.cudnn.version(), torch.cuda.get_device_name())"
} > "$out/env.txt" 2>&1 || status=1

timeout 120 python3 -m segattack_gui.cli attack --demo fundus --device "$device" --out "$out/demo_run" --quiet \
    > "$out/demo.txt" 2>&1 || status=1

timeout 420 python3 -m segattack_gui.cli bench --device "$device" --model unet --batch-size 8 --rounds 3 \
    --precision fp32,tf32,bf16 --save-json "$out/bench.json" > "$out/bench.txt" 2>&1 || status=1

timeout 240 python3 -m pytest -q -p no:cacheprovider tests/core > "$out/core.txt" 2>&1 || status=1

tail -n 25 "$out/bench.txt"
tail -n 3 "$out/demo.txt" "$out/core.txt"
exit "$status"
