"""A model from a user's file as an ordinary eval-mode module whose failures are one-line ValueErrors.

``load_model`` wraps every TorchScript archive and ``torch.export`` program in :class:`UserModel`, so
the library, the CLI and the dashboard all get the same behaviour: eval mode that stays eval, a
shape mismatch that names the expected input shape, a failing forward (``torch.jit.Error`` is no
RuntimeError) and integer logits reported in one line naming the file.

:class:`ExportedModule` runs a checked ``ExportedProgram``'s graph directly -- weights held as
parameters and buffers, the image batch as the one input, logits out -- instead of
``ExportedProgram.module()``, which has no working ``eval()`` and generates Python code from
strings in the file (argument names, guard expressions).
"""

from __future__ import annotations

import torch
from torch import Tensor, fx, nn
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind, OutputKind

from saliency_core.errors import one_line_error

aten = torch.ops.aten

# The "training" argument of the ops that behave differently in training mode: a program exported
# from a model in training mode still runs as the eval-mode model.
_TRAINING_ARG = {
    aten.batch_norm.default: 5,
    aten.dropout.default: 2,
    aten.feature_dropout.default: 2,
    aten.alpha_dropout.default: 2,
    aten.feature_alpha_dropout.default: 2,
}


def _to_eval(graph_module: fx.GraphModule) -> None:
    """Set the training flag of batch norm and dropout calls to False, in every (sub)graph."""
    for module in graph_module.modules():
        if not isinstance(module, fx.GraphModule):
            continue
        changed = False
        for node in module.graph.nodes:
            index = _TRAINING_ARG.get(node.target) if node.op == "call_function" else None
            if index is not None and len(node.args) > index and node.args[index] is True:
                node.update_arg(index, False)
                changed = True
        if changed:
            module.recompile()


def _describe(dims: list[int | tuple[int, float]]) -> str:
    """``(N, 3, 64, 64)``: N for the batch, fixed sizes as numbers, other dynamic ones as their range."""
    parts = ["N"]
    for dim in dims[1:]:
        if isinstance(dim, int):
            parts.append(str(dim))
        else:
            low, high = dim
            parts.append(f"{low}..{int(high)}" if high != float("inf") else f"{low} or more")
    return f"({', '.join(parts)})"


class ExportedModule(nn.Module):
    """A checked ``ExportedProgram`` (one image-batch input, one logits output) as an ``nn.Module``.

    Gradients flow to the input as through any module; parameters are frozen (saliency needs
    input gradients only). Build it from a program that ``loading`` has already checked.
    """

    def __init__(self, program: ExportedProgram) -> None:
        super().__init__()
        signature = program.graph_signature
        self.graph_module = program.graph_module
        _to_eval(self.graph_module)
        self.held = nn.Module()  # the program's weights and constants, t<placeholder index>
        self._inputs: list[str | None] = []  # per placeholder: a held tensor's name, or None for the images
        for i, spec in enumerate(signature.input_specs):
            if spec.kind == InputKind.USER_INPUT:
                self._inputs.append(None)
                continue
            in_state = spec.kind == InputKind.PARAMETER or (spec.kind == InputKind.BUFFER and spec.persistent)
            value = (program.state_dict if in_state else program.constants)[spec.target]
            name = f"t{i}"
            if isinstance(value, nn.Parameter):
                self.held.register_parameter(name, nn.Parameter(value.detach(), requires_grad=False))
            else:
                self.held.register_buffer(name, value)
            self._inputs.append(name)
        self._output = next(i for i, spec in enumerate(signature.output_specs) if spec.kind == OutputKind.USER_OUTPUT)
        placeholders = [n for n in self.graph_module.graph.nodes if n.op == "placeholder"]
        image = placeholders[self._inputs.index(None)].meta["val"]
        # Each input dimension: a fixed size, or the (low, high) range the program was exported for.
        self.input_dims: list[int | tuple[int, float]] = []
        for size in image.shape:
            if isinstance(size, int):
                self.input_dims.append(size)
            else:
                bounds = program.range_constraints.get(size.node.expr)
                low, high = (int(bounds.lower), float(bounds.upper)) if bounds is not None else (0, float("inf"))
                self.input_dims.append((low, high))

    @property
    def input_shape(self) -> str:
        """The input shape the program takes, e.g. ``(N, 3, 64, 64)``: any batch size N."""
        return _describe(self.input_dims)

    def check_input(self, images: Tensor, name: str) -> None:
        """A ValueError naming the expected shape unless ``images`` fits the exported shape.

        The exported graph has its sizes baked in: on another shape it may fail deep inside or,
        worse, silently compute something else. Only the batch size is free (see ``forward``).
        """
        shape = tuple(images.shape)
        fits = len(shape) == len(self.input_dims) and shape[0] >= 1 and all(
            size == dim if isinstance(dim, int) else dim[0] <= size <= dim[1]
            for size, dim in zip(shape[1:], self.input_dims[1:])
        )
        if not fits:
            raise ValueError(f"{name} takes images of shape {self.input_shape} (as exported), got {shape}")

    def forward(self, images: Tensor) -> Tensor:
        """Logits of ``images``; batches the program was not exported for run in chunks.

        A default export fixes the batch size (to the example's): larger batches run in chunks of
        that size, smaller ones are padded with zero images whose rows are dropped. In eval mode a
        classifier treats every image on its own, so the logits are those of one big batch.
        """
        batch, first = images.shape[0], self.input_dims[0]
        low, high = (first, first) if isinstance(first, int) else (first[0], first[1])
        if low <= batch <= high:
            return self._run(images)
        size = int(high) if batch > high else low
        rows = []
        for chunk in images.split(size):
            missing = max(low - chunk.shape[0], 0)
            padded = torch.cat([chunk, chunk.new_zeros((missing, *chunk.shape[1:]))]) if missing else chunk
            rows.append(self._run(padded)[: chunk.shape[0]])
        return torch.cat(rows)

    def _run(self, images: Tensor) -> Tensor:
        args = [images if name is None else getattr(self.held, name) for name in self._inputs]
        return self.graph_module(*args)[self._output]


class UserModel(nn.Module):
    """A user's model (TorchScript or :class:`ExportedModule`) named after its file.

    Always in eval mode (``train()`` keeps it there: a user's file is for inference). Every
    failure of the forward pass is a one-line ValueError naming the file; so is output that is
    not a float logits tensor.
    """

    def __init__(self, model: nn.Module, name: str) -> None:
        super().__init__()
        self.model = model
        self.name = name
        self.train(False)

    def train(self, mode: bool = True) -> UserModel:  # noqa: ARG002 - eval mode whatever is asked
        """Stay in eval mode: batch norm on running statistics, no dropout."""
        return super().train(False)

    def forward(self, images: Tensor) -> Tensor:
        if isinstance(self.model, ExportedModule):
            self.model.check_input(images, self.name)
        try:
            logits = self.model(images)
        except Exception as error:  # noqa: BLE001 - torch.jit.Error is no RuntimeError; every failure is the model's
            # TorchScript errors carry the script's traceback: its last line is the cause.
            cause = str(error).strip().splitlines()[-1] if isinstance(error, torch.jit.Error) else one_line_error(error)
            raise ValueError(f"{self.name} failed on input of shape {tuple(images.shape)}: {cause}") from error
        if not isinstance(logits, Tensor):
            raise ValueError(f"{self.name} returns a {type(logits).__name__}, not a logits tensor")
        if not logits.is_floating_point():
            kind = "integer" if not logits.is_complex() and logits.dtype != torch.bool else "non-float"
            raise ValueError(f"{self.name}: the model returns {kind} logits "
                             f"({str(logits.dtype).removeprefix('torch.')}); saliency needs float logits")
        return logits
