"""Models as libraries save them: state dicts by import name, safetensors, torch.export, MONAI bundles."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.errors import SegAttackError
from segattack_gui.io.model_files import consent_reason, inspect_model_file, load_model


def _image(seed=0, size=(40, 48), channels=1):
    return np.random.default_rng(seed).random((*size, channels), dtype=np.float32)


def _predict(loaded, pixels):
    return loaded.adapter.predict(loaded.adapter.to_device(pixels))[0].numpy()


def _reference(model, pixels):
    with torch.no_grad():
        return model(torch.tensor(pixels).permute(2, 0, 1)[None]).argmax(1)[0].numpy()


def _demo_net(channels=1):
    torch.manual_seed(3)
    return PaddedUNet(in_channels=channels, num_classes=3, widths=(4, 8)).eval()


def test_a_state_dict_names_the_ways_it_loads(tmp_path):
    torch.save(_demo_net().state_dict(), tmp_path / "weights.pth")
    with pytest.raises(SegAttackError) as raised:
        load_model(tmp_path / "weights.pth", device="cpu")
    message = str(raised.value)
    for way in ('"architecture"', "padded_unet", "package.module:Callable", "--trust-model", ".pt2", "TorchScript"):
        assert way in message


def test_a_state_dict_of_an_importable_architecture_needs_consent_then_matches(tmp_path):
    model = nn.Conv2d(1, 3, 3, padding=1).eval()
    torch.save({"state_dict": model.state_dict()}, tmp_path / "conv.pt")
    (tmp_path / "conv.json").write_text(json.dumps({
        "architecture": "torch.nn:Conv2d", "classes": ["a", "b", "c"],
        "architecture_args": {"in_channels": 1, "out_channels": 3, "kernel_size": 3, "padding": 1}}))
    assert "imports and runs" in consent_reason(tmp_path / "conv.pt")
    with pytest.raises(SegAttackError, match="--trust-model"):
        load_model(tmp_path / "conv.pt", device="cpu")
    loaded = load_model(tmp_path / "conv.pt", device="cpu", trust_pickle=True)
    pixels = _image()
    np.testing.assert_array_equal(_predict(loaded, pixels), _reference(model, pixels))


def test_an_architecture_from_a_library_that_is_not_installed_names_what_to_install(tmp_path):
    torch.save(_demo_net().state_dict(), tmp_path / "net.pt")
    (tmp_path / "net.json").write_text(json.dumps({"architecture": "no_such_library_xyz.nets:Net"}))
    with pytest.raises(SegAttackError, match="no_such_library_xyz library, which is not installed"):
        load_model(tmp_path / "net.pt", device="cpu", trust_pickle=True)


def test_safetensors_weights_load_into_a_built_in_architecture_without_consent(tmp_path):
    from safetensors.torch import save_file

    model = _demo_net()
    save_file(model.state_dict(), str(tmp_path / "model.safetensors"))
    (tmp_path / "model.json").write_text(json.dumps({
        "architecture": "padded_unet", "classes": ["a", "b", "c"],
        "architecture_args": {"in_channels": 1, "widths": [4, 8]}}))
    assert inspect_model_file(tmp_path / "model.safetensors") == "state_dict"
    assert consent_reason(tmp_path / "model.safetensors") is None
    loaded = load_model(tmp_path / "model.safetensors", device="cpu")
    pixels = _image(1)
    np.testing.assert_array_equal(_predict(loaded, pixels), _reference(model, pixels))


def test_an_exported_program_with_a_fixed_size_gets_that_input_size(tmp_path):
    model = _demo_net(3)
    program = torch.export.export(model, (torch.rand(1, 3, 32, 32),))
    torch.export.save(program, tmp_path / "fixed.pt2")
    assert inspect_model_file(tmp_path / "fixed.pt2") == "export"
    loaded = load_model(tmp_path / "fixed.pt2", device="cpu")
    assert loaded.adapter.spec.input_size == (32, 32) and loaded.adapter.spec.in_channels == 3
    assert loaded.adapter.num_classes == 3
    pixels = _image(2, (32, 32), 3)
    np.testing.assert_array_equal(_predict(loaded, pixels), _reference(model, pixels))
    smaller = _image(3, (28, 30), 3)  # padded to the exported 32 x 32 (the "pad" policy)
    assert _predict(loaded, smaller).shape == (28, 30)
    batch = loaded.adapter.logits(torch.rand(3, 3, 32, 32))  # exported for one image: fed one by one
    assert batch.shape == (3, 3, 32, 32)


def test_an_exported_program_with_dynamic_sizes_takes_any_image(tmp_path):
    model = _demo_net(1)
    height, width = torch.export.Dim("h", min=8, max=512), torch.export.Dim("w", min=8, max=512)
    program = torch.export.export(model, (torch.rand(1, 1, 32, 32),),
                                  dynamic_shapes=({2: 2 * height, 3: 2 * width},))
    torch.export.save(program, tmp_path / "dynamic.pt2")
    loaded = load_model(tmp_path / "dynamic.pt2", device="cpu")
    assert loaded.adapter.spec.input_size is None
    pixels = _image(4, (40, 48))
    np.testing.assert_array_equal(_predict(loaded, pixels), _reference(model, pixels))


# ---------------------------------------------------------------- MONAI
def _bundle(folder, network_def: dict, weights: dict | None, torchscript=None, inferer=None):
    (folder / "configs").mkdir(parents=True)
    (folder / "models").mkdir()
    config = {"imports": ["$import torch"], "device": "$torch.device('cpu')", "network_def": network_def,
              "network": "$@network_def.to(@device)"}
    if inferer:
        config["inferer"] = inferer
    (folder / "configs" / "inference.json").write_text(json.dumps(config))
    (folder / "configs" / "metadata.json").write_text(json.dumps({"network_data_format": {
        "inputs": {"image": {"num_channels": 1, "spatial_shape": [64, 64]}},
        "outputs": {"pred": {"num_channels": 3, "channel_def": {"0": "background", "1": "disc", "2": "cup"}}}}}))
    if weights is not None:
        torch.save(weights, folder / "models" / "model.pt")
    if torchscript is not None:
        torch.jit.save(torchscript, str(folder / "models" / "model.ts"))
    return folder


UNET_DEF = {"_target_": "UNet", "spatial_dims": 2, "in_channels": 1, "out_channels": 3, "channels": [4, 8, 16],
            "strides": [2, 2], "num_res_units": 1}


def _monai_unet():
    monai_nets = pytest.importorskip("monai.networks.nets", reason="MONAI tests need the monai extra")
    torch.manual_seed(5)
    return monai_nets.UNet(**{k: v for k, v in UNET_DEF.items() if k != "_target_"}).eval()


def test_a_monai_bundle_agrees_with_monai_building_it(tmp_path):
    from monai.bundle import ConfigParser

    network = _monai_unet()
    folder = _bundle(tmp_path / "bundle", UNET_DEF, network.state_dict())
    assert inspect_model_file(folder) == "monai_bundle" and consent_reason(folder) is None
    loaded = load_model(folder, device="cpu")
    assert loaded.adapter.class_names == ("background", "disc", "cup")
    parser = ConfigParser()  # the bundle as MONAI itself builds it
    parser.read_config(str(folder / "configs" / "inference.json"))
    theirs = parser.get_parsed_content("network")
    theirs.load_state_dict(torch.load(folder / "models" / "model.pt", weights_only=True))
    pixels = _image(6, (48, 64))
    np.testing.assert_array_equal(_predict(loaded, pixels), _reference(theirs.eval(), pixels))


def test_a_monai_bundle_with_expressions_in_its_network_needs_consent(tmp_path):
    network = _monai_unet()
    definition = dict(UNET_DEF, out_channels="$1 + 2")
    folder = _bundle(tmp_path / "bundle", definition, network.state_dict())
    assert "Python expressions" in consent_reason(folder)
    with pytest.raises(SegAttackError, match="--trust-model"):
        load_model(folder, device="cpu")
    assert load_model(folder, device="cpu", trust_pickle=True).adapter.num_classes == 3


def test_a_torchscript_only_bundle_and_its_sliding_window_size(tmp_path):
    network = _monai_unet()
    scripted = torch.jit.trace(network, torch.rand(1, 1, 32, 32))
    inferer = {"_target_": "SlidingWindowInferer", "roi_size": [32, 32], "sw_batch_size": 4, "overlap": 0.25}
    folder = _bundle(tmp_path / "bundle", UNET_DEF, None, scripted, inferer)
    loaded = load_model(folder, device="cpu")
    pixels = _image(7, (32, 32))
    np.testing.assert_array_equal(_predict(loaded, pixels), _reference(network, pixels))
    from monai.inferers import SlidingWindowInferer

    larger = _image(8, (48, 56))  # windows overlap and average as MONAI's own inferer does
    with torch.no_grad():
        theirs = SlidingWindowInferer(roi_size=[32, 32], sw_batch_size=4, overlap=0.25)(
            torch.tensor(larger).permute(2, 0, 1)[None], network).argmax(1)[0].numpy()
    np.testing.assert_array_equal(_predict(loaded, larger), theirs)
    image = loaded.adapter.to_device(larger).requires_grad_(True)
    loaded.adapter.logits(image)[:, 1].sum().backward()
    assert image.grad.abs().sum() > 0


def test_a_monai_unet_state_dict_by_import_name(tmp_path):
    network = _monai_unet()
    torch.save(network.state_dict(), tmp_path / "unet.pth")
    arguments = {k: v for k, v in UNET_DEF.items() if k != "_target_"}
    (tmp_path / "unet.json").write_text(json.dumps({
        "architecture": "monai.networks.nets:UNet", "architecture_args": arguments,
        "classes": ["background", "disc", "cup"]}))
    loaded = load_model(tmp_path / "unet.pth", device="cpu", trust_pickle=True)
    pixels = _image(8, (48, 64))
    np.testing.assert_array_equal(_predict(loaded, pixels), _reference(network, pixels))


def test_an_unknown_folder_says_which_folders_load(tmp_path):
    with pytest.raises(SegAttackError, match="nnU-Net trained-model folder"):
        load_model(tmp_path, device="cpu")


# ---------------------------------------------------------------- save_pretrained folders
def _library_or_skip(module: str, extra: str):
    try:
        return __import__(module)
    except Exception as error:  # smp and transformers import torchvision, a CUDA build here that fails with CPU torch
        pytest.skip(f"{module} cannot be imported here ({type(error).__name__}); "
                    f'install "segattack[{extra}]" with a torchvision that matches torch')


def _pretrained_folder(folder, config: dict):
    from safetensors.torch import save_file

    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    save_file({"weight": torch.zeros(1)}, str(folder / "model.safetensors"))
    return folder


def test_a_save_pretrained_folder_without_its_library_is_one_line_naming_the_extra(tmp_path, monkeypatch):
    import importlib

    real = importlib.import_module

    def missing(name, *args):
        top = name.split(".")[0]
        if top in ("transformers", "segmentation_models_pytorch"):
            raise ImportError(f"No module named {top!r}", name=top)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", missing)
    hugging_face = _pretrained_folder(tmp_path / "hf", {"architectures": ["SegformerForSemanticSegmentation"]})
    assert inspect_model_file(hugging_face) == "pretrained"
    with pytest.raises(SegAttackError, match=r'pip install "segattack\[huggingface\]"'):
        load_model(hugging_face, device="cpu")
    smp_folder = _pretrained_folder(tmp_path / "smp", {"_model_class": "Unet", "encoder_name": "resnet18"})
    with pytest.raises(SegAttackError, match=r'pip install "segattack\[smp\]"'):
        load_model(smp_folder, device="cpu")


def test_a_hugging_face_segformer_folder_loads_with_its_labels_and_quarter_logits(tmp_path):
    transformers = _library_or_skip("transformers", "huggingface")
    config = transformers.SegformerConfig(
        num_channels=3, num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
        patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2], decoder_hidden_size=16,
        num_labels=3, id2label={0: "background", 1: "disc", 2: "cup"}, label2id={"background": 0, "disc": 1, "cup": 2})
    torch.manual_seed(0)
    model = transformers.SegformerForSemanticSegmentation(config).eval()
    model.save_pretrained(tmp_path / "segformer")
    loaded = load_model(tmp_path / "segformer", device="cpu")
    assert loaded.adapter.class_names == ("background", "disc", "cup")
    pixels = _image(9, (64, 64), 3)
    with torch.no_grad():
        logits = model(pixel_values=torch.tensor(pixels).permute(2, 0, 1)[None]).logits
        expected = torch.nn.functional.interpolate(logits, size=(64, 64), mode="bilinear").argmax(1)[0].numpy()
    np.testing.assert_array_equal(_predict(loaded, pixels), expected)


def test_an_smp_folder_loads_through_from_pretrained(tmp_path):
    smp = _library_or_skip("segmentation_models_pytorch", "smp")
    torch.manual_seed(0)
    model = smp.Unet("resnet18", encoder_weights=None, in_channels=3, classes=2).eval()
    model.save_pretrained(str(tmp_path / "smp"))
    loaded = load_model(tmp_path / "smp", device="cpu")
    pixels = _image(10, (64, 64), 3)
    np.testing.assert_array_equal(_predict(loaded, pixels), _reference(model, pixels))
