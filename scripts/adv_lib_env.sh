#!/usr/bin/env bash
# adv-lib 0.2.8 importable beside this checkout, for `segattack bench`'s adv-lib line (docs/design.md, Performance).
#
#     bash scripts/adv_lib_env.sh [DIR]        # default DIR: .bench-deps in the checkout (ignored)
#     PYTHONPATH=DIR/site:DIR/stand-ins segattack bench ...
#
# adv-lib's package imports torchvision (for its LPIPS distance) and visdom (for its live
# logger) when any attack is imported; its asma uses neither. Where they do not install (this
# workplace: torchvision's PyPI wheel needs a CUDA build of torch, visdom does not build), the
# stand-ins below let `import adv_lib.attacks.segmentation` succeed. A real torchvision or
# visdom, when installed, is used instead: the stand-ins are written only for those missing.
# adv-lib itself is installed unchanged (--no-deps: its own requirement is torch, present).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(realpath -m "${1:-$root/.bench-deps}")
cd "$root"
python3 -m pip install --quiet --no-deps --upgrade --target "$dir/site" adv-lib==0.2.8
mkdir -p "$dir/stand-ins"
if ! python3 -c "import visdom" 2>/dev/null; then
    echo '"""Stand-in: adv-lib imports visdom only for its optional live logger."""' > "$dir/stand-ins/visdom.py"
fi
if ! python3 -c "import torchvision" 2>/dev/null; then
    mkdir -p "$dir/stand-ins/torchvision"
    printf '"""Stand-in: adv-lib imports torchvision only for its LPIPS distance."""\nmodels = None\n' \
        > "$dir/stand-ins/torchvision/__init__.py"
fi
PYTHONPATH="$dir/site:$dir/stand-ins" python3 -c \
    "from segattack_gui.bench.adv_lib import load_adv_lib_asma; print(load_adv_lib_asma()[1])"
