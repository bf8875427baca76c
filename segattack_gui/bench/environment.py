"""What moves the bench's figures: the device, the precisions it offers, the backend switches."""

from __future__ import annotations

import platform

import torch

from ..core.models import ModelAdapter, ModelSpec, fast_precisions


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def backend_settings(adapter: ModelAdapter) -> dict:
    """The switches that move these figures (read back from torch, not assumed)."""
    settings = {"device": str(adapter.device), "channels_last": adapter.channels_last,
                "autocast": "bf16" if adapter.precision == "bf16" else "off"}
    if adapter.device.type == "cuda":
        settings.update({
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_version": torch.backends.cudnn.version(),
        })
    else:
        settings["threads"] = torch.get_num_threads()
    return settings


def settings_text(settings: dict) -> str:
    if settings["device"].startswith("cuda"):
        text = (f"cudnn.benchmark={_on(settings['cudnn_benchmark'])} cudnn.tf32={_on(settings['cudnn_allow_tf32'])} "
                f"matmul.tf32={_on(settings['matmul_allow_tf32'])}")
    else:
        text = f"cpu threads={settings['threads']} (no cuDNN/TF32)"
    return f"{text} channels_last={_on(settings['channels_last'])} autocast={settings['autocast']}"


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def available_precisions(device: torch.device) -> list[str]:
    """Every precision that runs on ``device``: on CUDA those the GUI offers (:func:`fast_precisions`);
    on the CPU fp32, and bf16 autocast if it runs here at all (natively or emulated)."""
    if device.type == "cuda":
        return fast_precisions(device)
    return ["fp32"] + (["bf16"] if _bf16_runs(device) else [])


def _bf16_runs(device: torch.device) -> bool:
    probe = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(4, 2, 1))
    try:
        adapter = ModelAdapter(probe, ModelSpec(), device=device, precision="bf16")
        x = torch.rand(1, 3, 8, 8, device=device, requires_grad=True)
        (gradient,) = torch.autograd.grad(adapter.logits(x).sum(), x)
        return bool(torch.isfinite(gradient).all())
    except (RuntimeError, TypeError, NotImplementedError):
        return False


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
