"""Two character-level language models whose every matrix is an ``nn.Linear`` weight.

The paper pools the weights of Conv and Linear layers (``include = "conv-linear"``). Written this
way, that rule shares what matters in a language model: a GRU's input and recurrent matrices
and its output head; a transformer's attention (q, k, v and output projections), MLP and head.
The embeddings (token, position), LayerNorm scales and every bias stay in the file's rest, in
fp32. Both models map token ids ``[N, T]`` to logits ``[N, V, T]`` (classes on dimension 1, as
``cross_entropy`` takes them), so the harness's ``argmax(1)`` predicts every position.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CharGRU(nn.Module):
    """One GRU layer (PyTorch's equations, gates r, z, n) whose matrices are Linear weights."""

    def __init__(self, vocab: int, embed: int = 64, hidden: int = 384) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.ih = nn.Linear(embed, 3 * hidden)   # W_ir, W_iz, W_in stacked (as nn.GRU's weight_ih)
        self.hh = nn.Linear(hidden, 3 * hidden)  # W_hr, W_hz, W_hn (weight_hh)
        self.head = nn.Linear(hidden, vocab)
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.embed(x)
        h0 = e.new_zeros(1, x.shape[0], self.hidden)
        # ATen's fused GRU (what nn.GRU runs) over the Linear layers' weights: 7x faster to train
        # on a CPU than a Python loop over time steps, and the same equations
        out, _ = torch.gru(e, h0, [self.ih.weight, self.hh.weight, self.ih.bias, self.hh.bias],
                           True, 1, 0.0, self.training, False, True)
        return self.head(out).transpose(1, 2)

    def unrolled(self, x: torch.Tensor) -> torch.Tensor:
        """The same model written out step by step (for tests: the gates are where they should be)."""
        gi = self.ih(self.embed(x))
        h = gi.new_zeros(x.shape[0], self.hidden)
        out = []
        for t in range(x.shape[1]):
            i_r, i_z, i_n = gi[:, t].chunk(3, dim=1)
            h_r, h_z, h_n = self.hh(h).chunk(3, dim=1)
            r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
            h = (1 - z) * torch.tanh(i_n + r * h_n) + z * h
            out.append(h)
        return self.head(torch.stack(out, dim=1)).transpose(1, 2)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv, self.proj = nn.Linear(dim, 3 * dim), nn.Linear(dim, dim)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.heads = heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(att.transpose(1, 2).reshape(n, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class CharTransformer(nn.Module):
    """A small decoder-only (GPT-style, pre-LayerNorm) transformer over characters."""

    def __init__(self, vocab: int, context: int = 128, dim: int = 128, layers: int = 4,
                 heads: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(context, dim)
        self.blocks = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)
        self.context = context

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x) + self.pos(torch.arange(x.shape[1], device=x.device))
        for block in self.blocks:
            h = block(h)
        return self.head(self.ln(h)).transpose(1, 2)


ARCHS = {"gru": CharGRU, "transformer": CharTransformer}


def build_lm(arch: str, vocab: int, context: int = 128) -> nn.Module:
    return CharTransformer(vocab, context) if arch == "transformer" else ARCHS[arch](vocab)
