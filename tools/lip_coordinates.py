"""Do lip landmark coordinates, given to the model beside the mouth crops, make it read better?

An experiment, not a feature: it measures the idea before the package carries it. Three steps, each on the
fixed split that ``lipread train`` holds out (``--split-seed 0``: 810 training clips, 90 validation clips):

``extract``
    For every clip, the 40 face-mesh points of the lips (:data:`LIPS`) in every frame, found as the aligned
    crop finds them (:mod:`lipread.video.landmarks`: the face tracked, the mesh on each frame, each frame's
    points brought to the mean face by the similarity transform of its stable points), so that head
    position, size and roll drop out. Saved as ``float32 (T, 40, 2)`` mean-face units, ``<clip key>.npy``.
``tune``
    Fine-tunes a model (by default the shipped one) with a second input: each frame's :func:`features`
    through two temporal convolutions, projected onto the front end's features and added to them before
    the recurrent layers. The projection starts at zero, so the first step reads exactly as the model did.
    ``--without`` runs the same fine-tune with no second input: the control, with the same batches, cuts,
    augmentation draws and schedule. The mirror augmentation is off in both (the lip points of a mirrored
    clip would need their left and right swapped). Each epoch prints validation WER and CER with the
    greedy, beam and grammar decoders and appends them to ``<run>/history.json``.
``alone``
    Trains a small model on the coordinates alone (no pixels) from random weights: how much of the
    sentence the points carry by themselves.

Usage::

    python tools/lip_coordinates.py extract ../shared/data/grid -o runs/lips --cache runs/cache
    python tools/lip_coordinates.py tune ../shared/data/grid --points runs/lips --cache runs/cache \\
        -o runs/lips-tune-s1 --seed 1
    python tools/lip_coordinates.py tune ../shared/data/grid --points runs/lips --cache runs/cache \\
        -o runs/lips-control-s1 --seed 1 --without
    python tools/lip_coordinates.py alone ../shared/data/grid --points runs/lips -o runs/lips-alone

``extract`` takes about 0.3 s a clip on one core; a ``tune`` epoch about 3 minutes on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lipread.data.augmentation import NO_AUGMENTATION
from lipread.data.dataset import Clip, CropCache
from lipread.data.training import TrainOptions, learning_rate, training_clips
from lipread.weights import load_checkpoint
from lipread_torch.data import Batch, Examples, make_batch
from lipread_torch.model import LipNet, time_mask
from lipread_torch.train import ctc_loss
from lipread_torch.wrapper import assign_canonical

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the tools folder, for decoder_scores and finetune
from decoder_scores import decoder_scores
from finetune import load_split, training_batches

LIPS = (
    *(61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 185, 40, 39, 37, 0, 267, 269, 270, 409),
    *(78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 191, 80, 81, 82, 13, 312, 311, 310, 415),
)
"""Face-mesh indices of the lips: the outer edge, then the inner edge (MediaPipe's ``FACEMESH_LIPS``)."""

FEATURES = 2 * len(LIPS) + 2
"""Numbers per frame from :func:`features`: the lip shape, then where the lips are."""


def lip_points(frames: np.ndarray) -> np.ndarray:
    """:data:`LIPS` in every frame of ``uint8 (T, H, W, 3)`` RGB frames, as ``float32 (T, 40, 2)`` in
    mean-face units (outer-eye distances; :data:`lipread.video.landmarks.MEAN_FACE`).

    Raises:
        VideoError: no face in the frames.
    """
    from lipread.video.face import Face
    from lipread.video.landmarks import landmarks, to_template
    from lipread.video.mouth import _face_track

    track = _face_track(frames, 3, "<frames>", every=15)  # as the default crop follows the face
    points = np.empty((len(frames), len(LIPS), 2), np.float32)
    for t in range(len(frames)):
        mesh, _ = landmarks(frames[t], Face(*(float(v) for v in track.values[t])))
        to_face = to_template(mesh)
        points[t] = mesh[list(LIPS)] @ to_face[:, :2].T + to_face[:, 2]
    return points


def features(points: np.ndarray) -> np.ndarray:
    """``float32 (T, FEATURES)`` per frame of a clip's ``(T, 40, 2)`` lip points: each point's offset from
    the frame's lip centre (the shape of the lips), then that centre's offset from the clip's median centre
    (the jaw moving)."""
    centre = points.mean(axis=1, keepdims=True)
    shape = (points - centre).reshape(len(points), -1)
    move = centre[:, 0] - np.median(centre[:, 0], axis=0)
    return np.concatenate([shape, move], axis=1).astype(np.float32)


class CoordinateBranch(nn.Module):
    """``(B, T, FEATURES)`` standardised coordinates -> ``(B, T, size)``: two temporal convolutions (5 frames
    each) and a projection that starts at zero."""

    def __init__(self, size: int, hidden: int = 128) -> None:
        super().__init__()
        self.convolutions = nn.Sequential(
            nn.Conv1d(FEATURES, hidden, 5, padding=2),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Conv1d(hidden, hidden, 5, padding=2),
            nn.ReLU(),
        )
        self.projection = nn.Linear(hidden, size)
        nn.init.zeros_(self.projection.weight)
        nn.init.zeros_(self.projection.bias)

    def forward(self, coordinates: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Frames past a clip's length are zeroed before the convolutions, as the front end zeroes them."""
        x = coordinates * time_mask(lengths, coordinates.shape[1])[:, :, None].to(coordinates.dtype)
        return self.projection(self.convolutions(x.transpose(1, 2)).transpose(1, 2))


class WithCoordinates(nn.Module):
    """A :class:`LipNet` whose front-end features get the coordinates' branch added (None: the plain model)."""

    def __init__(self, lipnet: LipNet, branch: CoordinateBranch | None) -> None:
        super().__init__()
        self.lipnet, self.branch = lipnet, branch

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor, coordinates: torch.Tensor) -> torch.Tensor:
        """``(B, T, H, W, C)`` frames, ``int64 (B,)`` lengths and ``(B, T, FEATURES)`` coordinates -> ``(B, T, V)``
        log-probabilities."""
        x = self.lipnet.features(frames, lengths)
        if self.branch is not None:
            # the branch is small: it runs in float32, as the recurrent layers do under CPU autocast
            with torch.autocast("cpu", enabled=False):
                x = x.float() + self.branch(coordinates.float(), lengths)
        return self.lipnet.read_features(x, lengths)


class CoordinatesAlone(nn.Module):
    """Coordinates only: two temporal convolutions, two bidirectional GRU layers of 128, a classifier."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.convolutions = nn.Sequential(
            nn.Conv1d(FEATURES, 128, 5, padding=2), nn.ReLU(), nn.Conv1d(128, 128, 5, padding=2), nn.ReLU()
        )
        self.rnn = nn.GRU(128, 128, 2, batch_first=True, bidirectional=True, dropout=0.3)
        self.classifier = nn.Linear(256, classes)

    def forward(self, coordinates: torch.Tensor) -> torch.Tensor:
        """``(B, T, FEATURES)`` -> ``(B, T, V)`` log-probabilities."""
        x = self.convolutions(coordinates.transpose(1, 2)).transpose(1, 2)
        return F.log_softmax(self.classifier(self.rnn(x)[0]), dim=-1)


def _options(args: argparse.Namespace) -> TrainOptions:
    return TrainOptions(data=args.data, output=args.output, mirror=False, seed=getattr(args, "seed", 0))


def _standardised(
    points: Path, train: Sequence[Clip], val: Sequence[Clip]
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each clip's :func:`features`, standardised by the training clips' mean and deviation per number."""
    tr = [features(np.load(points / f"{c.key}.npy")) for c in train]
    va = [features(np.load(points / f"{c.key}.npy")) for c in val]
    every = np.concatenate(tr)
    mean, scale = every.mean(axis=0), every.std(axis=0) + 1e-6
    return [(x - mean) / scale for x in tr], [(x - mean) / scale for x in va]


def _coordinates(batch: Batch, coordinates: Sequence[np.ndarray]) -> torch.Tensor:
    """``(B, T, FEATURES)`` for a batch: each clip's coordinates through its frames' cuts and jitter."""
    out = torch.zeros((len(batch.indices), batch.frames.shape[1], FEATURES))
    assert batch.sources is not None, "make_batch records each frame's source"
    for b, i in enumerate(batch.indices):
        out[b, : len(batch.sources[b])] = torch.from_numpy(coordinates[i][batch.sources[b]])
    return out


def extract(args: argparse.Namespace) -> None:
    from lipread.video.reader import read_frames

    options = _options(args)
    train, val = training_clips(options)
    cache = CropCache(args.cache, options.model_config) if args.cache else None
    args.output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for n, clip in enumerate(sorted(train + val, key=lambda c: c.key), 1):
        path = args.output / f"{clip.key}.npy"
        if path.exists():
            continue
        points = lip_points(read_frames(clip.video))
        if cache is not None and len(cache.get(clip)) != len(points):
            raise SystemExit(f"{clip.video}: {len(points)} frames, but {len(cache.get(clip))} crops")
        np.save(path, points)
        if n % 100 == 0:
            print(f"{n} clips, {time.perf_counter() - start:.0f} s", flush=True)


def tune(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    options = _options(args)
    checkpoint, train, val = load_split(options, args.init, args.cache)
    config = checkpoint.config
    train_xy, val_xy = _standardised(args.points, train.clips, val.clips)
    lipnet = LipNet(config, conv_dropout=options.conv_dropout)
    assign_canonical(lipnet, checkpoint.tensors, str(args.init))
    net = WithCoordinates(lipnet, None if args.without else CoordinateBranch(config.feature_size))
    groups = [{"params": list(lipnet.parameters()), "lr": args.lr}]
    if net.branch is not None:
        groups.append({"params": list(net.branch.parameters()), "lr": args.branch_lr})
    optimiser = torch.optim.Adam(groups)
    args.output.mkdir(parents=True, exist_ok=True)
    history = [{"epoch": 0, **_validate(net, val, val_xy)}]
    print(json.dumps(history[-1]), flush=True)
    for epoch in range(1, args.epochs + 1):
        factor = learning_rate(epoch - 1, 1.0, args.constant_epochs, args.decay)
        for group, lr in zip(optimiser.param_groups, [args.lr, args.branch_lr]):
            group["lr"] = lr * factor
        net.train()
        start, total = time.perf_counter(), 0.0
        for _, batch in training_batches(train, options, args.seed, epoch):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = ctc_loss(net(batch.frames, batch.lengths, _coordinates(batch, train_xy)), batch).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(batch.indices)
        history.append(
            {"epoch": epoch, "train_loss": round(total / len(train), 4), "seconds": round(time.perf_counter() - start)}
        )
        history[-1].update(_validate(net, val, val_xy))
        print(json.dumps(history[-1]), flush=True)
        (args.output / "history.json").write_text(json.dumps(history, indent=1))


def _validate(net: WithCoordinates, val: Examples, coordinates: list[np.ndarray]) -> dict[str, float]:
    net.eval()
    logprobs, loss = [], 0.0
    with torch.no_grad():
        for start in range(0, len(val), 8):
            indices = np.arange(start, min(start + 8, len(val)))
            batch = make_batch(val, indices, None, NO_AUGMENTATION, align_tolerance=3)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                lp = net(batch.frames, batch.lengths, _coordinates(batch, coordinates)).float()
            loss += float(ctc_loss(lp, batch).sum())
            logprobs += [lp[b, : batch.lengths[b]].numpy() for b in range(len(lp))]
    assert val.vocabulary is not None
    return {"val_loss": round(loss / len(val), 4), **decoder_scores(val.texts, logprobs, val.vocabulary)}


def padded(xs: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature sequences ``(T_i, FEATURES)`` as one zero-padded ``(B, T, FEATURES)`` batch and their lengths."""
    out = np.zeros((len(xs), max(len(x) for x in xs), FEATURES), np.float32)
    for i, x in enumerate(xs):
        out[i, : len(x)] = x
    return torch.from_numpy(out), torch.tensor([len(x) for x in xs])


def fit(
    net: CoordinatesAlone,
    xs: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    epochs: int,
    lr: float = 1e-3,
    batch: int = 16,
    draws: Callable[[int], np.random.Generator] = np.random.default_rng,
    after_epoch: Callable[[int], None] | None = None,
) -> None:
    """Trains ``net`` with CTC on standardised feature sequences ``xs`` and their label ids, by Adam at ``lr``:
    each epoch the clips in the order ``draws(epoch)`` gives, in batches of ``batch``, with Gaussian noise of
    deviation 0.05 added to every number (the same generator). ``after_epoch(epoch)`` runs after each epoch."""
    optimiser = torch.optim.Adam(net.parameters(), lr)
    for epoch in range(1, epochs + 1):
        net.train()
        rng = draws(epoch)
        order = rng.permutation(len(xs))
        for indices in (order[i : i + batch] for i in range(0, len(order), batch)):
            x, lengths = padded([xs[i] + rng.normal(0, 0.05, xs[i].shape).astype(np.float32) for i in indices])
            y = [targets[i] for i in indices]
            loss = F.ctc_loss(
                net(x).transpose(0, 1), torch.from_numpy(np.concatenate(y)), lengths,
                torch.tensor([len(t) for t in y]), zero_infinity=True,
            )  # fmt: skip
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        if after_epoch is not None:
            after_epoch(epoch)


def read_alone(net: CoordinatesAlone, xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each clip's ``float32 (T_i, V)`` log-probabilities by ``net``."""
    net.eval()
    with torch.no_grad():
        x, lengths = padded(xs)
        lp = net(x).numpy()
    return [lp[i, : lengths[i]] for i in range(len(xs))]


def alone(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    train, val = training_clips(_options(args))
    vocabulary = load_checkpoint(args.init).config.vocabulary
    train_xy, val_xy = _standardised(args.points, train, val)
    net = CoordinatesAlone(vocabulary.size)

    def report(epoch: int) -> None:
        if epoch % 5 == 0 or epoch == args.epochs:
            scores = decoder_scores([c.text for c in val], read_alone(net, val_xy), vocabulary)
            print(json.dumps({"epoch": epoch, **scores}), flush=True)

    fit(net, train_xy, [np.asarray(vocabulary.encode(c.text)) for c in train], args.epochs, after_epoch=report)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    for name in ("extract", "tune", "alone"):
        step = steps.add_parser(name)
        step.add_argument("data", type=Path, help="a GRID folder (the split of lipread train)")
        step.add_argument("-o", "--output", type=Path, required=True, help="points folder (extract) or run folder")
        step.add_argument("--init", type=Path, default=Path("lipread/models/lipnet-grid-s1.safetensors"))
        if name == "extract":
            step.add_argument("--cache", type=Path, help="a crop cache: check each clip's frame count against it")
        else:
            step.add_argument("--points", type=Path, required=True, help="the folder extract wrote")
            step.add_argument("--epochs", type=int, default=10 if name == "tune" else 60)
        if name == "tune":
            step.add_argument("--cache", type=Path, required=True)
            step.add_argument("--seed", type=int, default=1)
            step.add_argument("--without", action="store_true", help="the control: no coordinates")
            step.add_argument("--lr", type=float, default=1e-4, help="the model's learning rate")
            step.add_argument("--branch-lr", type=float, default=1e-3, help="the new branch's learning rate")
            step.add_argument("--constant-epochs", type=int, default=5)
            step.add_argument("--decay", type=float, default=0.15)
    args = parser.parse_args(argv)
    {"extract": extract, "tune": tune, "alone": alone}[args.step](args)


if __name__ == "__main__":
    main()
