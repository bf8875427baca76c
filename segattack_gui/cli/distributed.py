"""``segattack batch`` under ``torchrun``: every process attacks its share, rank 0 writes the tables.

``torchrun --nproc_per_node N -m segattack_gui.cli batch ...`` starts N copies of the
command with ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` set. Each copy joins one
``torch.distributed`` process group (NCCL between GPUs, gloo on the CPU), runs the
pairs ``pairs[rank::world_size]`` on its own device (``cuda:LOCAL_RANK``, else the CPU)
and writes their run folders; then all copies meet, and rank 0 builds ``table.csv`` and
``table.md`` from every run folder. The meeting is an all-reduce of a success flag rather
than a bare barrier, so a copy that fails releases the others instead of hanging them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence, TypeVar

import torch
import torch.distributed as dist

Item = TypeVar("Item")


def launched_by_torchrun() -> bool:
    """True when the environment carries a process-group rank (``torchrun`` sets these)."""
    return all(name in os.environ for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


@dataclass(frozen=True)
class Team:
    """This process's place in the group: which share it runs, and on which device."""

    rank: int
    world_size: int
    local_rank: int
    device: str  # "cuda:LOCAL_RANK" or "cpu"

    @property
    def is_main(self) -> bool:
        """Rank 0 writes what belongs to the whole run (the tables) and prints the summary."""
        return self.rank == 0

    def share(self, items: Sequence[Item]) -> list[Item]:
        """Every ``world_size``-th item from ``rank``: the shares are disjoint and cover ``items``."""
        return list(items[self.rank :: self.world_size])

    def all_succeeded(self, succeeded: bool) -> bool:
        """Collective: wait for every rank, and tell whether all of them finished their share."""
        flag = torch.tensor([1 if succeeded else 0], device=self.device if dist.get_backend() == "nccl" else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())


def join(requested_device: str = "auto") -> Team | None:
    """Join the process group when started by ``torchrun``; ``None`` for a plain single process.

    ``requested_device`` is the ``--device`` flag: ``cpu`` keeps every rank on the CPU
    (gloo); ``auto`` or ``cuda`` gives rank r the GPU ``cuda:LOCAL_RANK`` (NCCL) when
    CUDA is available.
    """
    if not launched_by_torchrun():
        return None
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    wants_cuda = requested_device != "cpu" and torch.cuda.is_available()
    if requested_device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available")
    if wants_cuda:
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local_rank} has no GPU (this node has {torch.cuda.device_count()})")
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(local_rank)
    else:
        device = "cpu"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if wants_cuda else "gloo", rank=rank, world_size=world_size)
    return Team(rank, world_size, local_rank, device)


def leave(team: Team | None) -> None:
    """Leave the process group (a no-op for a single process)."""
    if team is not None and dist.is_initialized():
        dist.destroy_process_group()
