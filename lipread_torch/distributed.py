"""The processes of a training run: one, or several under ``torchrun`` (a gloo or NCCL process group).

:func:`start_processes` reads ``torchrun``'s environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``) and joins the
process group; :meth:`Processes.end` leaves it when the run is over. A warm restart
(:mod:`lipread.data.restart`) trains a second run in the same processes: the group is kept from one run to the
next (:data:`~lipread.data.restart.MORE_TRAINING`), since a process that destroyed its group cannot join a new
one under ``torchrun``.
"""

from __future__ import annotations

import atexit
import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from lipread.data.restart import MORE_TRAINING

from .wrapper import resolve_device

__all__ = ["Processes", "start_processes"]


@dataclass
class Processes:
    """Where this process stands in a (possibly one-process) run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def broadcast_flag(self, flag: bool, device: torch.device) -> bool:
        """Process 0's ``flag`` on every process."""
        if not self.active:
            return flag
        t = torch.tensor([int(flag)], device=device)
        dist.broadcast(t, 0)
        return bool(t.item())

    def sync_buffers(self, module: nn.Module) -> None:
        """Give every process process 0's buffers (BatchNorm statistics, updated locally by each)."""
        if self.active:
            for buffer in module.buffers():
                dist.broadcast(buffer, 0)

    def mean(self, value: float, device: torch.device) -> float:
        """The mean of ``value`` over the processes."""
        if not self.active:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return float(t.item()) / self.world

    def end(self) -> None:
        """The run is over: leave the process group, unless another run follows in this process
        (:data:`~lipread.data.restart.MORE_TRAINING`); should none follow after all (a time limit reached), it
        is left at exit."""
        if self.active and dist.is_initialized():
            if os.environ.get(MORE_TRAINING) != "1":
                _destroy_group(barrier=False)
            else:
                atexit.register(_destroy_group)


def start_processes(requested: str) -> tuple[Processes, torch.device]:
    """This process's place in the run and its device (``requested``: ``auto``, ``cpu``, ``cuda``...; under
    ``torchrun`` on CUDA, the process's own GPU); joins the process group unless a run before this one in the
    process kept it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(requested)  # raises for an unknown name, or CUDA where there is none
    if world <= 1:
        return Processes(), device
    d = Processes(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return d, device


def _destroy_group(barrier: bool = True) -> None:
    if dist.is_initialized():
        if barrier:  # at exit: every process here first, one that tears its group down alone can abort another
            dist.barrier()
        dist.destroy_process_group()
        # What holds the group (the run's DistributedDataParallel) may sit in reference cycles: collected only at
        # interpreter shutdown, its gloo threads ended after Python had, aborting one process in four under load.
        gc.collect()
