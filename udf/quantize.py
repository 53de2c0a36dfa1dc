"""Batch-invariant int8 dynamic quantization of the encoder's Linear layers (CPU).

torch's `quantize_dynamic` picks one activation scale per call from the min/max of the whole
input tensor, i.e. of every token of every text in the batch. A text's score then depends on
its batch neighbours (which other rows DuckDB handed over, how many threads ran, what was in
the cache): up to ~1e-4 on the test model, several 1e-2 on the embeddings of MiniLM.

Here each token row is scaled by its own max |x| into [-1, 1] first; a sentinel row
[1, -1, 0, ...] pins the tensor range to exactly [-1, 1], so the activation scale and zero
point that fbgemm derives are the same constants for every batch. The int8 x int8 products
accumulate in int32 (exact, so order-free), dequantization is elementwise, and the row scale
is multiplied back afterwards: every output row depends only on its own input row. Weights are
quantized per output channel. Per-row scales are also more accurate than one per tensor.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


class RowwiseInt8Linear(nn.Module):
    """y = s * (W_int8 . q(x / s)) + b with s = max |x| per row; only on the CPU."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        weight = linear.weight.detach().float().cpu()
        self.in_features = int(linear.in_features)
        self.out_features = int(linear.out_features)
        if self.in_features < 2:
            raise ValueError("RowwiseInt8Linear needs at least 2 input features")
        scales = (weight.abs().amax(dim=1) / 127.0).clamp_min(1e-12).double()
        zero_points = torch.zeros(self.out_features, dtype=torch.long)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # quantized tensor constructors are deprecated
            qweight = torch.quantize_per_channel(weight, scales, zero_points, 0, torch.qint8)
            self._packed = torch.ops.quantized.linear_prepack(qweight, None)
        bias = None if linear.bias is None else linear.bias.detach().float().cpu().clone()
        self.register_buffer("bias", bias)
        sentinel = torch.zeros(self.in_features)
        sentinel[0], sentinel[1] = 1.0, -1.0
        self.register_buffer("sentinel", sentinel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        rows = x.reshape(-1, self.in_features).float()
        m = rows.shape[0]
        scale = rows.abs().amax(dim=1, keepdim=True).clamp_min_(1e-30)
        normalized = rows.new_empty((m + 1, self.in_features))
        torch.div(rows, scale, out=normalized[:m])
        normalized[m] = self.sentinel
        out = torch.ops.quantized.linear_dynamic(normalized, self._packed, True)[:m]
        out.mul_(scale)  # in place: a fresh activation-sized tensor costs more than the op
        if self.bias is not None:
            out.add_(self.bias)
        return out.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rowwise int8"


def quantize_int8(module: nn.Module) -> nn.Module:
    """Replace every nn.Linear inside `module` (in place) by a RowwiseInt8Linear; returns it."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear):
            setattr(module, name, RowwiseInt8Linear(child))
        else:
            quantize_int8(child)
    return module
