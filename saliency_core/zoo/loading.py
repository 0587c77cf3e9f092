"""Load a user's model without ever running code from the file.

Accepted: ``torch.export`` programs (``.pt2``), TorchScript archives, safetensors (tensors only)
and state dicts in ``.pt``/``.pth`` files read with ``torch.load(weights_only=True)`` (an
allow-listed unpickler) -- the last two need an architecture name from ``ARCHITECTURES``.
Anything else, including pickles that reference arbitrary callables, is refused with a one-line
ValueError naming the file. The file is read once: what is checked is what is loaded.

``.pt2``: ``torch.export.load`` is never called. It unpickles sample inputs, weights and
constants without ``weights_only``, unpickles "opaque" constants with ``pickle.loads``, loads
AOTInductor shared libraries, evaluates the shape expressions in the program's JSON as Python
(``sympy.sympify``) and ``.module()`` executes its guard strings. Here the archive is read with
``zipfile``: weights and constants come from their raw bytes (a pickled one must load with
``weights_only=True``), the sample inputs must load with ``weights_only=True`` and are not used,
the program JSON must hold plain names and arithmetic only (its debug metadata and guards are
dropped), and then torch's deserializer builds the graph, whose every operator is checked before
it runs (:class:`~saliency_core.zoo.user_model.ExportedModule`).

TorchScript: its unpickler only rebuilds TorchScript types, but TorchScript code can call
``torch.save`` (write any file) or ``torch.from_file``, also while loading, in ``__setstate__``.
So an archive whose code defines ``__setstate__`` is refused before loading, and every compiled
function (with the bodies of its nested blocks and subgraphs) is checked before the model first
runs: operators outside an allow-list of namespaces, the file operators, and every ``prim::`` kind
but those ordinary classifiers use (no ``prim::fork``/``awaitable``/``rpc_*``) are refused. The
members checked are the ones torch's own zip reader reads, which must equal Python's view.

Limits: a model file holds at most ``MAX_MODEL_BYTES`` (2 GiB); its archive unpacks to at most
2 GiB and at most 100 times the file's size, with no data before the first member and no
overlapping members; shape expressions hold numbers below 2**63 and only small literal powers.
"""

from __future__ import annotations

import ast
import io
import json
import operator
import os
import re
import sys
import threading
import tokenize
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, safe_open
from torch import nn

from saliency_core.data.files import check_regular_file, read_regular_file
from saliency_core.errors import one_line_error

from .architecture import ARCHITECTURES, CLASSES
from .user_model import ExportedModule, UserModel

# --------------------------------------------------------------------------- archives


class _Refused(ValueError):
    """A file refused with a message of ours (torch's own ValueErrors get the file's name added)."""


# The most a model file may hold, and the most its archive may unpack to (also at most
# MAX_UNPACK_RATIO times the file's size): a zip bomb is refused from its directory, unread.
MAX_MODEL_BYTES = 2 * 2**30
MAX_UNPACKED_BYTES = 2 * 2**30
MAX_UNPACK_RATIO = 100


class _Archive:
    """A zip archive held in memory; members are named below its one top folder, as torch names them.

    Repeated names (also ones differing only in case: torch's zip reader ignores case) are refused,
    so that the member checked here is the member torch reads. So is anything that would let torch's
    zip reader (miniz) see another archive than Python's ``zipfile``: data before the first member
    (zipfile shifts every offset by its length, miniz does not) and members that overlap. Members
    may unpack to at most ``MAX_UNPACKED_BYTES`` in all, and to at most ``MAX_UNPACK_RATIO`` times
    the file's size (torch stores its members uncompressed).
    """

    def __init__(self, path: Path, data: bytes) -> None:
        self.path = path
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = [info for info in self.zip.infolist() if not info.is_dir()]
            end_record = zipfile._EndRecData(io.BytesIO(data))  # type: ignore[attr-defined]
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
            raise _Refused(f"{path.name} is not a readable zip archive: {one_line_error(err, typed=True)}") from None
        if (not data.startswith(b"PK\x03\x04") or not end_record
                or end_record[zipfile._ECD_OFFSET] != self.zip.start_dir):  # type: ignore[attr-defined]
            raise _Refused(f"refused {path.name}: the zip archive has data before its first member "
                           "(torch's zip reader would read another archive than the one checked)")
        self._check_layout(data)
        names = [info.filename for info in infos]
        if len({name.lower() for name in names}) != len(names):
            raise _Refused(f"refused {path.name}: the archive repeats a member name")
        if len({name.split("/", 1)[0] for name in names}) != 1 or any("/" not in name for name in names):
            raise _Refused(f"{path.name} is not an archive written by torch: its files are not all in one "
                           "top folder")
        self.members = {info.filename.split("/", 1)[1]: info for info in infos}

    def _check_layout(self, data: bytes) -> None:
        """Members that unpack to more than the limits, or that overlap, are refused."""
        name = self.path.name
        infos = self.zip.infolist()
        limit = min(MAX_UNPACKED_BYTES, MAX_UNPACK_RATIO * len(data))
        if sum(info.file_size for info in infos) > limit:
            raise _Refused(f"refused {name}: its members unpack to "
                           f"{sum(info.file_size for info in infos):,} bytes, more than the {limit:,} allowed "
                           f"(at most {MAX_UNPACK_RATIO} times the file's size, {MAX_UNPACKED_BYTES:,} in all)")
        end = 0
        for info in sorted(infos, key=lambda info: info.header_offset):
            start = info.header_offset
            header = data[start:start + 30]
            if len(header) < 30 or not header.startswith(b"PK\x03\x04"):
                raise _Refused(f"{name} is damaged: archive member {info.filename[:60]!r} has no local header")
            stop = start + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
            stop += info.compress_size
            if start < end or stop > self.zip.start_dir:  # type: ignore[attr-defined]
                raise _Refused(f"refused {name}: archive member {info.filename[:60]!r} overlaps another member "
                               "or the archive's directory")
            end = stop

    def __contains__(self, name: str) -> bool:
        return name in self.members

    def read(self, name: str) -> bytes:
        try:
            return self.zip.read(self.members[name])
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as err:
            raise _Refused(f"{self.path.name}: archive member {name} is unreadable: "
                           f"{one_line_error(err, typed=True)}") from None


def _weights_only(path: Path, raw: bytes, what: str) -> Any:
    """``raw`` unpickled by torch's allow-listed unpickler; anything needing more is refused."""
    try:
        return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure: refused, never retried without weights_only
        # torch's text explains how to bypass the check: name only what the pickle asked for.
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        detail = f" (it refers to {found.group(1)})" if found else ""
        raise _Refused(f"refused {path.name}: it holds a pickle ({what}) that only full unpickling "
                       f"reads, which can run code{detail}") from None


# --------------------------------------------------------------------------- torch.export (.pt2)

# torch's deserializer keeps its state in a module global: one program at a time.
_DESERIALIZE = threading.Lock()
_PROGRAM = "model"  # the program torch.export.save writes and torch.export.load returns

# Strings the deserializer only uses as names (tensors, weights, operators, modules).
_NAME = re.compile(r"[\w.]*")
# Strings that are data, never code: string arguments of operators (repr'd into the graph's code)
# and the exporting version.
_TEXT_KEYS = frozenset({"as_string", "as_strings", "torch_version"})
# The input/output tree specs: torch.utils._pytree imports the modules that a spec's contexts name
# (enum keys, defaultdict factories), so only plain containers with plain keys.
_SPEC_KEYS = frozenset({"in_spec", "out_spec"})
_SPEC_TYPES = frozenset({None, "builtins.tuple", "builtins.list", "builtins.dict"})
# Shape expressions (sympy's srepr, e.g. "Mul(Integer(2), Symbol('s0', positive=True))") go through
# sympy.sympify, i.e. eval(): only these names, symbols, numbers, operators, keyword arguments
# and quoted names or numbers.
_SYMBOL = re.compile(r"[a-z]{1,4}[0-9]+")
_KEYWORD = re.compile(r"[a-z][a-z_]*")
_QUOTED = re.compile(r"""(['"])([A-Za-z_][A-Za-z0-9_]*|[-+0-9.eE]+)\1""")
_SYMPY_NAMES = frozenset({
    "FloorDiv", "ModularIndexing", "Where", "PythonMod", "Mod", "CleanDiv", "CeilToInt", "FloorToInt",
    "CeilDiv", "LShift", "RShift", "PowByNatural", "FloatPow", "FloatTrueDiv", "IntTrueDiv",
    "IsNonOverlappingAndDenseIndicator", "TruncToFloat", "TruncToInt", "RoundToInt", "RoundDecimal",
    "ToFloat", "Identity", "Symbol", "Integer", "Float", "Rational", "Add", "Mul", "Pow", "Max", "Min",
    "Abs", "floor", "ceiling", "StrictLessThan", "LessThan", "StrictGreaterThan", "GreaterThan", "Equality",
    "Unequality", "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "And", "Or", "Not", "BooleanTrue", "BooleanFalse",
    "Piecewise", "ExprCondPair", "oo", "zoo", "nan", "True", "False", "true", "false",
})
_SYMPY_OPS = frozenset({"+", "-", "*", "/", "//", "%", "**", "(", ")", ",", "<", "<=", ">", ">=", "==", "!=",
                        "&", "|", "~"})
_SKIP_TOKENS = frozenset({tokenize.NUMBER, tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER})

# Operators a user's program may call: aten/prims operators but those that touch files, the
# symbolic-size arithmetic torch's own serializer emits, and control-flow wrappers around subgraphs.
_OP_NAMESPACES = frozenset({"aten", "prims"})
_FILE_OPS = frozenset({"aten::save", "aten::from_file", "debugprims::load_tensor"})
_HIGHER_ORDER_OPS = frozenset({"cond", "while_loop", "map_impl", "scan", "invoke_subgraph", "out_dtype",
                               "wrap_with_set_grad_enabled", "wrap_with_autocast"})


def _python_ops() -> frozenset[object]:
    """The symbolic-size arithmetic (operator.mul, torch.sym_max, ...) torch's serializer emits, and getitem."""
    from torch._export.serde.serialize import _SYM_OPS

    return frozenset({*_SYM_OPS, operator.getitem})


def _check_expression(path: Path, text: str) -> None:
    def refuse() -> _Refused:
        return _Refused(f"refused {path.name}: its shape expression {text[:60]!r} is not plain "
                        "arithmetic (torch would evaluate it as Python code)")

    if len(text) > 2000 or not text.isascii():
        raise refuse()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        raise refuse() from None
    for token, following in zip(tokens, [*tokens[1:], None]):
        keyword = following is not None and following.string == "="
        allowed = (token.type in _SKIP_TOKENS
                   or (token.type == tokenize.NAME and (token.string in _SYMPY_NAMES or _SYMBOL.fullmatch(token.string)
                                                        or (keyword and _KEYWORD.fullmatch(token.string))))
                   or (token.type == tokenize.OP and (token.string in _SYMPY_OPS or token.string == "="))
                   or (token.type == tokenize.STRING and _QUOTED.fullmatch(token.string)))
        if not allowed:
            raise refuse()
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise refuse() from None
    if _value_bits(tree.body, refuse) > _MAX_EXPRESSION_BITS:
        raise _Refused(f"refused {path.name}: its shape expression {text[:60]!r} evaluates to numbers too "
                       "large to compute")


# Shape expressions are evaluated by sympy while the program is deserialized: numbers in them stay
# below 2**63, powers and shifts take a literal exponent of at most 64, and an upper bound of the
# size of every value computed stays below _MAX_EXPRESSION_BITS (9**9**9 would never finish).
_MAX_LITERAL = 2**63
_MAX_EXPONENT = 64
_MAX_EXPRESSION_BITS = 2**16
_POWERS = frozenset({"Pow", "PowByNatural", "FloatPow"})
_SHIFTS = frozenset({"LShift", "RShift"})
_SUMS = frozenset({"Add", "Max", "Min", "Piecewise", "ExprCondPair", "Rational"})


def _literal(node: ast.AST) -> int | float | None:
    """The number a literal (``5``, ``-5``, ``Integer(5)``, ``Integer('5')``) stands for, or None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("Integer", "Float") \
            and len(node.args) == 1 and not node.keywords:
        return _literal(node.args[0])
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        value = node.value
        if isinstance(value, str):
            try:
                value = int(value) if value.lstrip("+-").isdigit() else float(value)
            except ValueError:
                return None
        return value if isinstance(value, (int, float)) else None
    return None


def _value_bits(node: ast.AST, refuse: Any) -> int:
    """An upper bound of the bits of what ``node`` computes (symbols are sizes: below 2**63).

    Refuses (``raise refuse()``) literals of 2**63 or more and powers or shifts whose exponent is
    not a literal of at most 64.
    """
    literal = _literal(node)
    if literal is not None:
        if isinstance(literal, int) and abs(literal) >= _MAX_LITERAL:
            raise refuse()
        return 64
    parts: list[ast.AST]
    if isinstance(node, ast.Call):
        kind = node.func.id if isinstance(node.func, ast.Name) else ""
        if kind == "Symbol":
            return 64
        if kind in _POWERS | _SHIFTS:
            if len(node.args) != 2:
                raise refuse()
            base, exponent = node.args
            return _power_bits(kind, base, exponent, refuse)
        parts = [*node.args, *(keyword.value for keyword in node.keywords)]
        bits = [_value_bits(part, refuse) for part in parts] or [1]
        return sum(bits) if kind == "Mul" else max(bits) + len(bits)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, (ast.Pow, ast.LShift, ast.RShift)):
            kind = {ast.Pow: "Pow", ast.LShift: "LShift", ast.RShift: "RShift"}[type(node.op)]
            return _power_bits(kind, node.left, node.right, refuse)
        left, right = _value_bits(node.left, refuse), _value_bits(node.right, refuse)
        return left + right if isinstance(node.op, ast.Mult) else max(left, right) + 1
    if isinstance(node, (ast.UnaryOp, ast.Compare, ast.BoolOp)):
        parts = list(ast.iter_child_nodes(node))
        return max((_value_bits(part, refuse) for part in parts if isinstance(part, ast.expr)), default=1)
    if isinstance(node, ast.Name):  # oo, zoo, nan, True, ... (symbols are Symbol(...) calls)
        return 64
    if isinstance(node, ast.Constant):  # booleans, quoted names
        return 1
    raise refuse()


def _power_bits(kind: str, base: ast.AST, exponent: ast.AST, refuse: Any) -> int:
    power = _literal(exponent)
    if not isinstance(power, int) or abs(power) > _MAX_EXPONENT:
        raise refuse()
    bits = _value_bits(base, refuse)
    if kind in _POWERS:
        return bits * max(abs(power), 1)
    return bits + abs(power) if kind == "LShift" else bits


def _plain_context(context: object) -> bool:
    """A tree-spec node's context: none, or JSON of a list of plain keys (no enums to import)."""
    if context is None:
        return True
    try:
        keys = json.loads(context) if isinstance(context, str) else ()
    except ValueError:
        return False
    return keys is None or (isinstance(keys, list) and all(isinstance(k, (str, int)) for k in keys))


def _check_tree_spec(path: Path, text: str) -> None:
    damaged = _Refused(f"{path.name} is damaged: its input/output spec is not a tree spec")
    try:
        _, root = json.loads(text)
    except (ValueError, TypeError, RecursionError):
        raise damaged from None
    nodes = [root]
    while nodes:
        node = nodes.pop()
        if not isinstance(node, dict) or not isinstance(node.get("children_spec"), list):
            raise damaged
        kind = node.get("type")
        known = (kind is None or isinstance(kind, str)) and kind in _SPEC_TYPES
        if not known or not _plain_context(node.get("context")):
            raise _Refused(f"refused {path.name}: its input/output spec holds {str(kind)[:60]!r} or keys that are "
                           "not plain (torch would import the modules they name)")
        nodes.extend(node["children_spec"])


def _check_program_json(path: Path, value: Any, key: str = "") -> None:
    """Refuse anything in the program's JSON that torch would execute; drop debug metadata in place.

    Node metadata (stack traces, module paths, source functions) is not needed to run the graph,
    and torch resolves parts of it by name: it is emptied rather than checked.
    """
    if isinstance(value, dict):
        if isinstance(value.get("metadata"), dict):
            value["metadata"] = {}
        for name, item in value.items():
            if name in ("as_custom_obj", "custom_obj") or (name == "custom_obj_values" and item):
                raise _Refused(f"refused {path.name}: it holds custom C++/Python objects, which can run code")
            if not _NAME.fullmatch(name):
                raise _Refused(f"refused {path.name}: unexpected key {name[:60]!r} in its program")
            _check_program_json(path, item, name)
    elif isinstance(value, list):
        for item in value:
            _check_program_json(path, item, key)
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= _MAX_LITERAL:  # sizes, hints, bounds: sympy computes with them
            raise _Refused(f"refused {path.name}: its program holds a number of {value.bit_length()} bits "
                           f"({key or 'a value'}), beyond any size (2**63)")
    elif isinstance(value, str):
        if key == "expr_str":
            _check_expression(path, value)
        elif key in _SPEC_KEYS:
            _check_tree_spec(path, value)
        elif key not in _TEXT_KEYS and not _NAME.fullmatch(value):
            raise _Refused(f"refused {path.name}: its program has {value[:60]!r} where a name belongs "
                           f"({key or 'a key'})")


def _payload_tensors(archive: _Archive, folder: str, kind: str) -> dict[str, torch.Tensor]:
    """The program's weights (``kind="weights"``) or constants, from ``folder`` in the archive."""
    from torch._export.serde import schema
    from torch._export.serde.serialize import (
        _dict_to_dataclass,
        deserialize_scalar_type,
        deserialize_size,
        deserialize_storage_offset,
        deserialize_stride,
    )

    name = archive.path.name
    config_name = f"{folder}{_PROGRAM}_{kind}_config.json"
    if config_name not in archive:
        raise _Refused(f"{name} is not a torch.export program in the current format (no {config_name}); "
                       "export it again with torch.export.save")
    config = _dict_to_dataclass(schema.PayloadConfig, json.loads(archive.read(config_name)))
    flat: dict[str, torch.Tensor] = {}  # one tensor per file: weights that share storage stay shared
    tensors: dict[str, torch.Tensor] = {}
    for fqn, meta in config.config.items():
        member = folder + meta.path_name
        if not re.fullmatch(r"(weight|tensor)_[0-9]+", meta.path_name):
            raise _Refused(f"refused {name}: its {kind} hold {meta.path_name[:60]!r}, which is not a tensor "
                           "(custom objects can run code)")
        if member not in archive:
            raise _Refused(f"{name} is incomplete: {member} is missing")
        if meta.use_pickle:  # tensor subclasses: torch itself would unpickle them without weights_only
            value = _weights_only(archive.path, archive.read(member), f"{kind} entry {fqn!r}")
            if type(value) not in (torch.Tensor, nn.Parameter):
                raise _Refused(f"refused {name}: its {kind} entry {fqn!r} is a {type(value).__name__}, "
                               "not a plain tensor")
            tensors[fqn] = value
            continue
        if meta.tensor_meta is None:
            raise _Refused(f"{name} is damaged: {kind} entry {fqn!r} has no tensor description")
        dtype = deserialize_scalar_type(meta.tensor_meta.dtype)
        if member not in flat:
            raw = archive.read(member)
            flat[member] = torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        tensor = torch.as_strided(flat[member], deserialize_size(meta.tensor_meta.sizes),
                                  deserialize_stride(meta.tensor_meta.strides),
                                  deserialize_storage_offset(meta.tensor_meta.storage_offset))
        tensors[fqn] = nn.Parameter(tensor, requires_grad=meta.tensor_meta.requires_grad) if meta.is_param else tensor
    return tensors


def _allowed_op(target: object) -> bool:
    if isinstance(target, torch._ops.OpOverload):
        return target.namespace in _OP_NAMESPACES and target._schema.name not in _FILE_OPS
    if isinstance(target, torch._ops.HigherOrderOperator):
        return target.name() in _HIGHER_ORDER_OPS
    return target in _python_ops()


def _check_graph(path: Path, program: torch.export.ExportedProgram) -> None:
    """Every operator is allowed; one image batch in, one logits tensor out."""
    from torch.export.graph_signature import InputKind, OutputKind

    for module in program.graph_module.modules():
        if not isinstance(module, torch.fx.GraphModule):
            continue
        for node in module.graph.nodes:
            calls = node.op in ("call_module", "call_method", "call_function")
            if calls and (node.op != "call_function" or not _allowed_op(node.target)):
                raise _Refused(f"refused {path.name}: it calls {node.target!s:.80}, which saliency_core does "
                               "not run from a user's file")
            for arg in torch.utils._pytree.tree_leaves((node.args, node.kwargs)):
                if callable(arg) and not isinstance(arg, torch.fx.Node) and not _allowed_op(arg):
                    raise _Refused(f"refused {path.name}: it passes {arg!s:.80} to an operator")
    signature = program.graph_signature
    inputs = [spec.kind for spec in signature.input_specs]
    if not set(inputs) <= {InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR, InputKind.USER_INPUT}:
        raise _Refused(f"refused {path.name}: its program has inputs other than weights and the images")
    outputs = [spec.kind for spec in signature.output_specs]
    if (inputs.count(InputKind.USER_INPUT) != 1 or outputs.count(OutputKind.USER_OUTPUT) != 1
            or not set(outputs) <= {OutputKind.USER_OUTPUT, OutputKind.BUFFER_MUTATION}
            or not isinstance(signature.input_specs[inputs.index(InputKind.USER_INPUT)].arg,
                              torch.export.graph_signature.TensorArgument)):
        raise _Refused(f"{path.name} must take one image batch and return one logits tensor "
                       f"(its program takes {inputs.count(InputKind.USER_INPUT)} inputs and returns "
                       f"{outputs.count(OutputKind.USER_OUTPUT)} outputs)")


def _load_exported(path: Path, data: bytes) -> ExportedModule:
    from torch._export.serde import schema
    from torch._export.serde.serialize import ExportedProgramDeserializer, _dict_to_dataclass

    archive = _Archive(path, data)
    program_name = f"models/{_PROGRAM}.json"
    if program_name not in archive:
        raise _Refused(f"{path.name} is not a torch.export program in the current format (no {program_name}); "
                       "export it again with torch.export.save")
    if "byteorder" in archive and archive.read("byteorder").decode(errors="replace") != sys.byteorder:
        raise _Refused(f"{path.name} was saved on a machine of the other byte order")
    try:
        document = json.loads(archive.read(program_name))
    except (ValueError, RecursionError) as err:
        raise _Refused(f"{path.name} is damaged: its program is not JSON ({one_line_error(err, limit=80)})") from None
    if not isinstance(document, dict):
        raise _Refused(f"{path.name} is damaged: its program is not a JSON object")
    document["guards_code"] = []  # Python source that .module() would exec; ExportedModule checks shapes
    _check_program_json(path, document)
    weights = _payload_tensors(archive, "data/weights/", "weights")
    constants = _payload_tensors(archive, "data/constants/", "constants")
    samples = f"data/sample_inputs/{_PROGRAM}.pt"
    if samples in archive:  # not needed to run the model, so not used; a pickle that needs more is refused
        _weights_only(path, archive.read(samples), "sample inputs")
    serialized = _dict_to_dataclass(schema.ExportedProgram, document)
    with _DESERIALIZE:
        program = ExportedProgramDeserializer().deserialize(serialized, weights, constants, None)
    _check_graph(path, program)
    return ExportedModule(program)


# --------------------------------------------------------------------------- TorchScript

# The operator namespaces TorchScript code from a user's file may use, and operators that touch files.
_SCRIPT_NAMESPACES = frozenset({"aten", "prim", "prims", "quantized", "_quantized", "sparse", "mkldnn", "onednn",
                                "mkl", "quantization", "mkldnn_prepacked", "profiler"})
_SCRIPT_FILE_OPS = _FILE_OPS | {"prim::PythonOp", "prim::IgnoredPythonOp"}
# prim:: is allow-listed: the kinds scripted and traced classifiers use (control flow, calls, attributes,
# containers, casts, tensor properties; collected from scripting DemoCNN, EfficientNet, models with
# if/loops/lists/tuples/dicts/strings/classes/enums/with, LSTM and attention). Not among them:
# prim::fork, prim::awaitable and prim::rpc_* (they run a function, e.g. aten::save, kept in a subgraph
# attribute), prim::PythonOp, profiling and fusion nodes.
_SCRIPT_PRIMS = frozenset(f"prim::{kind}" for kind in (
    "Constant", "GetAttr", "SetAttr", "If", "Loop", "CallFunction", "CallMethod", "CreateObject", "Enter", "Exit",
    "RaiseException", "Uninitialized", "ListConstruct", "ListUnpack", "TupleConstruct", "TupleUnpack",
    "TupleIndex", "TupleSlice", "DictConstruct", "StringIndex", "ModuleContainerIndex", "unchecked_cast",
    "unchecked_unwrap_optional", "isinstance", "EnumName", "EnumValue", "NumToTensor", "Print", "abs", "min",
    "max", "rangelist", "tolist", "ConstantChunk", "AutogradZero", "AutogradAdd", "device", "dtype", "layout",
    "data", "grad", "requires_grad", "type", "name", "index", "id", "itemsize", "nbytes", "shape", "is_cpu",
    "is_cuda", "is_ipu", "is_maia", "is_meta", "is_mkldnn", "is_mps", "is_mtia", "is_nested", "is_quantized",
    "is_sparse", "is_sparse_csr", "is_vulkan", "is_xla", "is_xpu",
))
# Named in the message (and refused even were the allow-list widened): they run a function asynchronously.
_SCRIPT_ASYNC = frozenset({"prim::fork", "prim::awaitable", "prim::awaitable_nowait", "prim::rpc_async",
                           "prim::rpc_sync", "prim::rpc_remote"})
_CLASS_NAMESPACES = frozenset({"quantized", "sparse", "rnn", "mkldnn"})  # torch.classes.* a model may hold


def _is_torchscript(archive: _Archive) -> bool:
    """TorchScript archives hold compiled code (``code/``) and ``constants.pkl``; torch.save zips don't."""
    return any(name.startswith("code/") for name in archive.members) and "constants.pkl" in archive


def _script_nodes(block: Any) -> Iterator[Any]:
    """Every node of a graph: also those in nested blocks and in subgraph attributes (prim::fork's body)."""
    for node in block.nodes():
        yield node
        for inner in node.blocks():
            yield from _script_nodes(inner)
        for attribute in node.attributeNames():
            kind = node.kindOf(attribute)
            if kind == "g":
                yield from _script_nodes(node.g(attribute))
            elif kind == "gs":
                for graph in node.gs(attribute):
                    yield from _script_nodes(graph)


def _script_records(archive: _Archive, data: bytes) -> dict[str, bytes]:
    """The archive as torch's own zip reader reads it; refused unless it is what ``zipfile`` reads."""
    name = archive.path.name
    reader = torch._C.PyTorchFileReader(io.BytesIO(data))
    records = set(reader.get_all_records())
    differs = _Refused(f"refused {name}: torch's zip reader sees other members than Python's "
                       "(a crafted archive)")
    if records != set(archive.members):
        raise differs
    contents = {}
    for record in sorted(records):
        if reader.get_record_size(record) != archive.members[record].file_size:
            raise differs
        contents[record] = reader.get_record(record)
        if contents[record] != archive.read(record):
            raise differs
    return contents


def _load_torchscript(archive: _Archive, data: bytes) -> nn.Module:
    """``torch.jit.load`` with the code checked: nothing runs while loading, nothing touches files."""
    from torch.jit._recursive import wrap_cpp_module

    name = archive.path.name
    # Code the importer would run while loading: searched in the file itself and in every member as
    # torch's reader reads it (which must be what Python's zipfile reads).
    for content in [data, *_script_records(archive, data).values()]:
        if b"__setstate__" in content or b"OpaqueObject" in content:
            raise _Refused(f"refused {name}: its TorchScript code runs while loading (__setstate__), "
                           "which can write files")
    compilation_unit = torch._C.CompilationUnit()  # torch.jit.load's own steps, keeping the unit to check
    module = wrap_cpp_module(torch._C.import_ir_module_from_buffer(
        compilation_unit, data, torch.device("cpu"), {}, False))
    for function in compilation_unit.get_functions():  # every method of every class, before any runs
        for node in _script_nodes(function.graph):
            kind = node.kind()
            classes = re.findall(r"torch\.classes\.(\w+)\.", " ".join(str(v.type()) for v in node.outputs()))
            namespace = kind.split("::")[0]
            if (namespace not in _SCRIPT_NAMESPACES or kind in _SCRIPT_FILE_OPS or kind in _SCRIPT_ASYNC
                    or (namespace == "prim" and kind not in _SCRIPT_PRIMS)
                    or not set(classes) <= _CLASS_NAMESPACES):
                raise _Refused(f"refused {name}: its TorchScript code calls {kind}, which saliency_core does not "
                               "run from a user's file")
    return module


# --------------------------------------------------------------------------- weights + architecture


def _build(state: dict[str, torch.Tensor], architecture: str | None, classes: Sequence[str] | None,
           source: Path, **options: Any) -> nn.Module:
    if architecture is None:
        raise ValueError(f"{source.name} holds weights only: name its architecture "
                         f"(one of {', '.join(ARCHITECTURES)})")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ValueError(f"{source.name} is not a state dict of tensors")
    head = state.get("fc.weight")
    n_classes = len(classes) if classes is not None else (int(head.shape[0]) if head is not None else len(CLASSES))
    stem_convs = [v for k, v in state.items() if k.startswith("stem.") and v.dim() == 4]
    if "width" not in options and stem_convs:
        options["width"] = int(stem_convs[0].shape[0])  # DemoCNN's width = the stem's channels
    model = ARCHITECTURES[architecture](classes=n_classes, **options)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{source.name} does not fit architecture {architecture!r}: {err}") from None
    return model


def _load_state_dict(path: Path, data: bytes, architecture: str | None, classes: Sequence[str] | None,
                     **options: Any) -> nn.Module:
    try:
        # weights_only: the allow-listed unpickler, never arbitrary code.
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - junk fails with anything from KeyError to IndexError
        if re.search(r"GLOBAL |Can only (create|build)", str(err)):  # a pickle of more than tensors
            raise ValueError(f"{path.name}: pickled checkpoints can run code, so they are refused: "
                             "export TorchScript or .pt2, or save a safetensors state dict") from None
        raise ValueError(f"refused {path.name}: not TorchScript, not torch.export, and not a "
                         f"weights-only state dict: {one_line_error(err, typed=True)}") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise ValueError(f"{path.name} holds a {type(obj).__name__}, not a state dict; "
                         "export the model with torch.jit.save or torch.export instead")
    return _build(obj, architecture, classes, path, **options)


def load_model(path: str | os.PathLike[str], architecture: str | None = None,
               classes: Sequence[str] | None = None, **options: Any) -> nn.Module:
    """A model from ``path`` in eval mode on the CPU; see the module docstring for the formats.

    TorchScript and ``.pt2`` models come wrapped in :class:`~saliency_core.zoo.user_model.UserModel`
    (eval mode, one-line errors naming the file). ``classes`` (names) sets the number of outputs
    for weight-only files and is stored on the returned module as ``model.classes``; ``options``
    go to the architecture's constructor.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a model file (TorchScript, .pt2, safetensors or a state dict)")
    check_regular_file(path, what="model file")  # never open a pipe or device: it would hang
    suffix = path.suffix.lower()
    model: nn.Module
    if suffix == ".safetensors":  # tensors and a JSON header only: read by the safetensors library
        if path.stat().st_size > MAX_MODEL_BYTES:
            raise ValueError(f"{path.name}: {path.stat().st_size:,} bytes is larger than the "
                             f"{MAX_MODEL_BYTES:,} read for one model file")
        try:
            with safe_open(str(path), framework="pt") as fh:
                meta = fh.metadata() or {}
            state = load_file(str(path))
        except Exception as err:  # noqa: BLE001 - SafetensorError, OSError, a bad header: all "not valid"
            raise ValueError(f"{path.name} is not a valid safetensors file: {one_line_error(err, typed=True)}") from None
        model = _build(state, architecture or meta.get("architecture"), classes, path, **options)
    elif suffix == ".pt2":
        data = read_regular_file(path, what="model file", limit=MAX_MODEL_BYTES)
        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise ValueError(f"{path.name} is not a torch.export program: not a zip archive")
        try:
            model = UserModel(_load_exported(path, data), path.name)
        except _Refused:
            raise
        except Exception as err:  # noqa: BLE001 - torch's deserializer fails in many ways on a bad file
            raise ValueError(f"{path.name} is not a torch.export program: "
                             f"{one_line_error(err, typed=True, limit=300)}") from None
    else:
        data = read_regular_file(path, what="model file", limit=MAX_MODEL_BYTES)
        archive = _Archive(path, data) if zipfile.is_zipfile(io.BytesIO(data)) else None
        if archive is not None and _is_torchscript(archive):
            try:
                model = UserModel(_load_torchscript(archive, data), path.name)
            except _Refused:
                raise
            except Exception as err:  # noqa: BLE001 - a damaged archive fails in many ways, all "not readable"
                raise ValueError(f"{path.name} looks like a TorchScript archive but could not be read "
                                 f"(damaged or truncated?): {one_line_error(err, typed=True)}") from None
        else:
            model = _load_state_dict(path, data, architecture, classes, **options)
    model.eval()
    if classes is not None:
        model.classes = tuple(classes)  # type: ignore[assignment]
    return model
