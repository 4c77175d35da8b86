"""fp16 for CUDA (`convert_official.py --fp16`): the backbone and the experts, where nearly all of the
weights and the arithmetic are, in half precision; float32 islands where a rounding can change a
decision or a sum can overflow half precision's 65,504: the input normalisation, the layer
aggregation, the routers, the pitch tracker, the SER head's attentive pooling (sums of squares) and
classifier, the SE head's BLSTM and mask, and the STFT and its inverse. Casts sit at each island's
border, so the ONNX file keeps the contract's float32 inputs and outputs.

On a CPU, ONNX Runtime runs such a model by casting each half-precision node back to float32
around a float32 kernel: slower than the float32 model, but the parity check (merit.cpu_int8's,
against the float32 export) sees the half-precision weights and the rounding between nodes.
"""

from __future__ import annotations

import torch
from torch import nn

from .model import MeritModel

PRECISION = "fp16"


def _cast(value, dtype: torch.dtype):
    if isinstance(value, torch.Tensor):
        return value.to(dtype) if value.is_floating_point() else value
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(item, dtype) for item in value)
    return value


def half_modules(model: MeritModel) -> dict[str, nn.Module]:
    """The modules that run in half precision, by name."""
    modules: dict[str, nn.Module] = {"backbone": model.backbone}
    if model.moe is not None:
        modules.update({f"moe.experts.{index}": expert for index, expert in enumerate(model.moe.experts)})
    return modules


def to_half_precision(model: MeritModel) -> list[str]:
    """Puts `half_modules` in float16 with float32 at their borders (in place, for export);
    returns their names."""
    modules = half_modules(model)
    for module in modules.values():
        module.half()
        module.register_forward_pre_hook(lambda _module, args: _cast(args, torch.float16))
        module.register_forward_hook(lambda _module, _args, output: _cast(output, torch.float32))
    return list(modules)
