"""A tiny nnU-Net v2 trained-model folder made at test time: plans, dataset.json, two trained folds.

The network is nnU-Net's own PlainConvUNet built from the plans by nnU-Net's code; each fold is
trained for a few steps to find a bright disc, so its predictions are not trivial. The
checkpoints have the keys nnU-Net's trainer writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

PATCH = (32, 32)


def plans(normalisation: str = "ZScoreNormalization") -> dict:
    return {
        "dataset_name": "Dataset999_Discs", "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [999.0, 1.0, 1.0],
        "original_median_shape_after_transp": [1, 48, 56],
        "image_reader_writer": "NaturalImage2DIO",
        "transpose_forward": [0, 1, 2], "transpose_backward": [0, 1, 2],
        "experiment_planner_used": "ExperimentPlanner", "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {
            "0": {"max": 255.0, "mean": 120.0, "median": 120.0, "min": 0.0, "percentile_00_5": 10.0,
                  "percentile_99_5": 240.0, "std": 50.0}},
        "configurations": {"2d": {
            "data_identifier": "nnUNetPlans_2d", "preprocessor_name": "DefaultPreprocessor", "batch_size": 4,
            "patch_size": list(PATCH), "median_image_size_in_voxels": [48, 56], "spacing": [1.0, 1.0],
            "normalization_schemes": [normalisation], "use_mask_for_norm": [False],
            "resampling_fn_data": "resample_data_or_seg_to_shape",
            "resampling_fn_seg": "resample_data_or_seg_to_shape",
            "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
            "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
            "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
            "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0,
                                                   "force_separate_z": None},
            "architecture": {
                "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
                "arch_kwargs": {
                    "n_stages": 3, "features_per_stage": [4, 8, 16], "conv_op": "torch.nn.modules.conv.Conv2d",
                    "kernel_sizes": [[3, 3], [3, 3], [3, 3]], "strides": [[1, 1], [2, 2], [2, 2]],
                    "n_conv_per_stage": [2, 2, 2], "n_conv_per_stage_decoder": [2, 2], "conv_bias": True,
                    "norm_op": "torch.nn.modules.instancenorm.InstanceNorm2d",
                    "norm_op_kwargs": {"eps": 1e-05, "affine": True}, "dropout_op": None,
                    "dropout_op_kwargs": None, "nonlin": "torch.nn.LeakyReLU", "nonlin_kwargs": {"inplace": True}},
                "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"]},
            "batch_dice": True}},
    }


DATASET = {"channel_names": {"0": "grey"}, "labels": {"background": 0, "disc": 1, "core": 2},
           "numTraining": 8, "file_ending": ".png"}


def disc_image(seed: int, height: int = 48, width: int = 56) -> tuple[np.ndarray, np.ndarray]:
    """A noisy grey image with a bright disc (label 1) holding a brighter core (label 2)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:height, :width]
    cy, cx = rng.uniform(14, height - 14), rng.uniform(14, width - 14)
    distance = np.hypot(y - cy, x - cx)
    labels = np.where(distance < 10, 1, 0) + np.where(distance < 4, 1, 0)
    image = 0.25 + 0.3 * (labels > 0) + 0.3 * (labels > 1) + rng.normal(0, 0.05, (height, width))
    return np.clip(image, 0.01, 1).astype(np.float32), labels.astype(np.int64)


def _train(network, seed: int, steps: int) -> None:
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(network.parameters(), lr=0.02)
    batch = [disc_image(seed * 100 + index) for index in range(6)]
    images = torch.tensor(np.stack([b[0] for b in batch]))[:, None] * 255
    labels = torch.tensor(np.stack([b[1] for b in batch]))
    images = (images - images.mean((2, 3), keepdim=True)) / images.std((2, 3), keepdim=True, unbiased=False)
    network.train()
    for step in range(steps):
        top, left = (step * 5) % 17, (step * 7) % 25
        patch = images[..., top:top + PATCH[0], left:left + PATCH[1]]
        target = labels[..., top:top + PATCH[0], left:left + PATCH[1]]
        loss = F.cross_entropy(network(patch), target)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    network.eval()


def make_trained_model_folder(folder: Path, folds=(0, 1), steps: int = 30,
                              normalisation: str = "ZScoreNormalization") -> Path:
    """``folder`` as nnU-Net leaves a trained model: plans.json, dataset.json, fold_N/checkpoint_final.pth."""
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans
    from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

    folder.mkdir(parents=True, exist_ok=True)
    the_plans = plans(normalisation)
    (folder / "plans.json").write_text(json.dumps(the_plans))
    (folder / "dataset.json").write_text(json.dumps(DATASET))
    configuration = PlansManager(the_plans).get_configuration("2d")
    for fold in folds:
        torch.manual_seed(fold)
        network = get_network_from_plans(configuration.network_arch_class_name,
                                         configuration.network_arch_init_kwargs,
                                         configuration.network_arch_init_kwargs_req_import, 1, 3,
                                         allow_init=True, deep_supervision=False)
        _train(network, fold + 1, steps)
        (folder / f"fold_{fold}").mkdir(exist_ok=True)
        torch.save({
            "network_weights": network.state_dict(), "optimizer_state": {}, "grad_scaler_state": None,
            # nnU-Net logs NumPy scalars: a checkpoint must still load weights-only
            "logging": {"train_losses": [0.5], "ema_fg_dice": [np.float64(0.5)],
                        "dice_per_class_or_region": [[np.float64(0.4), np.float64(0.6)]]},
            "_best_ema": np.float64(0.5), "current_epoch": 1,
            "init_args": {"plans": the_plans, "configuration": "2d", "fold": fold, "dataset_json": DATASET,
                          "device": torch.device("cpu")},
            "trainer_name": "nnUNetTrainer", "inference_allowed_mirroring_axes": (0, 1),
        }, folder / f"fold_{fold}" / "checkpoint_final.pth")
    return folder
