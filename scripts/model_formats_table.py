"""Measure docs/model-files.md's table: each library's save format, loaded by SegAttack.

For every format a tiny model is built and trained here for a few steps on grey discs
(tests/core/nnunet_fixture.py), saved as its library saves it, and loaded by ``load_model``.
Two numbers per row: agreement of SegAttack's clean prediction with the library's own
predictor (pixels equal, and mean Dice over the classes either holds), and the IoU that
ASMA reaches towards a target with the disc moved, with the published steps (tau 1e-7,
beta 1e-6) and with the demo's (tau 5e-5, beta 5e-4), 300 iterations, CPU.

    PYTHONPATH=. python3 scripts/model_formats_table.py [WORD ...]   # rows whose format holds a WORD
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.core.attacks import create_attack
from segattack_gui.core.runner import run_attack
from segattack_gui.io.model_files import load_model
from tests.core.nnunet_fixture import disc_image, make_trained_model_folder

CLASSES = ["background", "disc", "core"]
UNET_ARGS = {"spatial_dims": 2, "in_channels": 1, "out_channels": 3, "channels": [8, 16, 32], "strides": [2, 2],
             "num_res_units": 1}


def train(network, steps: int = 80):
    """A few Adam steps on grey discs (images in [0, 1], as SegAttack feeds them)."""
    torch.manual_seed(0)
    batch = [disc_image(500 + index) for index in range(8)]
    images = torch.tensor(np.stack([b[0] for b in batch]))[:, None]
    labels = torch.tensor(np.stack([b[1] for b in batch]))
    optimiser = torch.optim.Adam(network.parameters(), lr=0.01)
    network.train()
    for _ in range(steps):
        loss = F.cross_entropy(network(images[..., :48, :48]), labels[..., :48, :48])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return network.eval()


def agreement(ours: np.ndarray, theirs: np.ndarray) -> str:
    same = float(np.mean(ours == theirs))
    dice = [2 * np.sum((ours == c) & (theirs == c)) / (np.sum(ours == c) + np.sum(theirs == c))
            for c in range(3) if np.any(ours == c) or np.any(theirs == c)]
    return f"{same:.2%} pixels, Dice {np.mean(dice):.3f}"


def reference(network, pixels: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return network(torch.tensor(pixels)[None, None]).argmax(1)[0].numpy()


def attack_iou(loaded, pixels: np.ndarray, target: np.ndarray, tau: float, beta: float) -> str:
    attack = create_attack("asma", iterations=300, tau=tau, beta=beta, stop_iou=0.99)
    result = run_attack(loaded.adapter, pixels[..., None], target, attack)
    return f"{result.final['iou']:.3f}"


def rows(folder: Path, wanted: list[str]):
    pixels, _ = disc_image(4242, 48, 56)
    if not wanted or any(word in "trained-model folder fold_0/checkpoint_final.pth" for word in wanted):
        yield from nnunet_rows(folder, pixels)
    yield from other_rows(folder, pixels)


def nnunet_rows(folder: Path, pixels: np.ndarray):
    nnunet = make_trained_model_folder(folder / "nnunet", steps=60)
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    def nnunet_reference(folds):
        predictor = nnUNetPredictor(use_mirroring=False, device=torch.device("cpu"), verbose=False,
                                    allow_tqdm=False, perform_everything_on_device=False)
        predictor.initialize_from_trained_model_folder(str(nnunet), use_folds=folds)
        raw = (pixels * 255)[None, None].astype(np.float32)
        return np.asarray(predictor.predict_single_npy_array(raw, {"spacing": [999.0, 1.0, 1.0]}))[0]

    yield ("nnU-Net v2", "trained-model folder (2 folds)", {}, "nothing", load_model(nnunet, device="cpu"),
           nnunet_reference((0, 1)), "nnUNetPredictor (no mirroring)")
    yield ("nnU-Net v2", "fold_0/checkpoint_final.pth", {}, "nothing",
           load_model(nnunet / "fold_0" / "checkpoint_final.pth", device="cpu"), nnunet_reference((0,)),
           "nnUNetPredictor fold 0")


def other_rows(folder: Path, pixels: np.ndarray):

    from monai.bundle import ConfigParser
    from monai.networks.nets import UNet

    torch.manual_seed(1)
    network = train(UNet(**UNET_ARGS))
    bundle = folder / "bundle"
    (bundle / "configs").mkdir(parents=True)
    (bundle / "models").mkdir()
    (bundle / "configs" / "inference.json").write_text(json.dumps({
        "network_def": {"_target_": "UNet", **UNET_ARGS}, "inferer": {"_target_": "SimpleInferer"}}))
    (bundle / "configs" / "metadata.json").write_text(json.dumps({"network_data_format": {
        "inputs": {"image": {"num_channels": 1, "spatial_shape": [48, 48]}},
        "outputs": {"pred": {"num_channels": 3, "channel_def": {"0": "background", "1": "disc", "2": "core"}}}}}))
    torch.save(network.state_dict(), bundle / "models" / "model.pt")
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs" / "inference.json"))
    built = parser.get_parsed_content("network_def")
    built.load_state_dict(torch.load(bundle / "models" / "model.pt", weights_only=True))
    inferer = parser.get_parsed_content("inferer")
    with torch.no_grad():
        monai_prediction = inferer(torch.tensor(pixels)[None, None], built.eval()).argmax(1)[0].numpy()
    yield ("MONAI", "bundle (configs/inference.json + models/model.pt)", {}, "nothing", load_model(bundle, device="cpu"),
           monai_prediction, "ConfigParser network + bundle inferer")

    state = folder / "unet.pth"
    torch.save(network.state_dict(), state)
    state.with_suffix(".json").write_text(json.dumps({"architecture": "monai.networks.nets:UNet",
                                                      "architecture_args": UNET_ARGS, "classes": CLASSES}))
    yield ("MONAI", "state dict (.pth)", {}, 'sidecar "architecture", "architecture_args", "classes"; --trust-model',
           load_model(state, device="cpu", trust_pickle=True), reference(network, pixels), "the network in torch")

    from safetensors.torch import save_file

    torch.manual_seed(2)
    padded = train(PaddedUNet(in_channels=1, num_classes=3, widths=(8, 16, 32)))
    save_file(padded.state_dict(), str(folder / "padded.safetensors"))
    (folder / "padded.json").write_text(json.dumps({"architecture": "padded_unet", "classes": CLASSES,
                                                    "architecture_args": {"in_channels": 1, "widths": [8, 16, 32]}}))
    yield ("PyTorch", ".safetensors state dict", {}, 'sidecar "architecture" (built in), "classes"',
           load_model(folder / "padded.safetensors", device="cpu"), reference(padded, pixels), "the network in torch")

    exported = torch.export.export(padded, (torch.rand(1, 1, 48, 56),))
    torch.export.save(exported, folder / "padded.pt2")
    program = torch.export.load(str(folder / "padded.pt2")).module()
    yield ("PyTorch", "torch.export program (.pt2, fixed 48x56)", {}, "nothing (classes counted)",
           load_model(folder / "padded.pt2", device="cpu"), reference(program, pixels), "torch.export.load(...).module()")

    scripted = folder / "scripted"
    (scripted / "configs").mkdir(parents=True)
    (scripted / "models").mkdir()
    window = {"_target_": "SlidingWindowInferer", "roi_size": [32, 32], "sw_batch_size": 4, "overlap": 0.25}
    (scripted / "configs" / "inference.json").write_text(json.dumps({"inferer": window}))
    torch.jit.save(torch.jit.trace(network, torch.rand(1, 1, 32, 32)), str(scripted / "models" / "model.ts"))
    (scripted / "configs" / "metadata.json").write_text((bundle / "configs" / "metadata.json").read_text())
    monai_window = ConfigParser()
    monai_window.read_config(str(scripted / "configs" / "inference.json"))
    with torch.no_grad():
        windowed = monai_window.get_parsed_content("inferer")(torch.tensor(pixels)[None, None], network)
    yield ("MONAI", "bundle with models/model.ts only, SlidingWindowInferer 32x32", {}, "nothing",
           load_model(scripted, device="cpu"), windowed.argmax(1)[0].numpy(), "MONAI SlidingWindowInferer")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        pixels, labels = disc_image(4242, 48, 56)
        target = np.zeros_like(labels)
        target[6:20, 34:50] = 1  # a disc where there is none, the real one gone
        target[10:16, 39:45] = 2
        print("| library | save format | what the user adds | clean agreement with the library's predictor "
              "| ASMA IoU (published steps) | ASMA IoU (demo steps) |")
        print("|---|---|---|---|---|---|")
        wanted = sys.argv[1:]
        for library, save_format, _, adds, loaded, theirs, predictor in rows(folder, wanted):
            if wanted and not any(word in save_format for word in wanted):
                continue
            ours = loaded.adapter.predict(loaded.adapter.to_device(pixels[..., None]))[0].numpy()
            published = attack_iou(loaded, pixels, target, 1e-7, 1e-6)
            demo = attack_iou(loaded, pixels, target, 5e-5, 5e-4)
            print(f"| {library} | {save_format} | {adds} | {agreement(ours, theirs)} ({predictor}) | {published} "
                  f"| {demo} |", flush=True)


if __name__ == "__main__":
    main()
