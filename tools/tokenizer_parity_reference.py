#!/usr/bin/python3
"""PyTorch references for Tessella's tokenizer parity tests (package org.tessella.tokenizer).

Each reference function returns (tensors, metadata) and is written to src/test/resources/parity/<name>.safetensors
with the writer of tools/parity_reference.py. Conventions are those of that script: weights and inputs drawn in
float32, computed in float64, stored as float32; param.<name> (PyTorch state_dict names), grad.<name>, grad.input,
input, probe, output, loss (shape [1]).

References:
  resblock   one VQGAN ResBlock 64 -> 128 (1x1 skip), GroupNorm(32, eps 1e-6) with random affine parameters, SiLU;
             loss = sum(output * probe)
  quantizer  l2-normalised VQ (K=16, D=8) on z [2, 8, 8]: latents, quantized, indices, codebook/commit losses, grads of
             codebook_loss + 0.25 * commit_loss + sum(quantized * probe) w.r.t. z and the codebook
  crt_regularizer  the CRT regularizer (2 blocks, d=64) on normalised latents [2, 16, 8]: next-latent MSE and all grads

To add a reference: write a function returning (tensors, metadata) and append (name, function) to REFERENCES.

  /usr/bin/python3 tools/tokenizer_parity_reference.py [--out DIR] [--only NAME ...]
"""

import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity_reference import apply_rope, common_metadata, f32, read_safetensors, rope_cache, write_safetensors  # noqa: E402

GENERATOR = "tools/tokenizer_parity_reference.py"


def metadata(seed, description, config):
    meta = common_metadata(seed, description, config)
    meta["generator"] = GENERATOR
    return meta


# ---------------------------------------------------------------------------------------------------------------
# ResBlock (org.tessella.tokenizer.ResBlock)

RESBLOCK_SEED = 2024
RES_IN, RES_OUT, RES_GROUPS, RES_EPS = 64, 128, 32, 1e-6
RES_SHAPE = (2, RES_IN, 8, 8)


class ResBlock(nn.Module):
    """VQGAN ResnetBlock without dropout/temb: x + conv2(silu(norm2(conv1(silu(norm1(x)))))), 1x1 skip when widths differ."""

    def __init__(self, cin, cout, groups, eps):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


def resblock_reference():
    torch.manual_seed(RESBLOCK_SEED)
    block = ResBlock(RES_IN, RES_OUT, RES_GROUPS, RES_EPS)  # conv: PyTorch default init, float32
    with torch.no_grad():
        for norm in (block.norm1, block.norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.2, 0.2)
    x32 = torch.randn(*RES_SHAPE, dtype=torch.float32)
    probe32 = torch.randn(RES_SHAPE[0], RES_OUT, *RES_SHAPE[2:], dtype=torch.float32)

    block = block.double()
    x = x32.double().requires_grad_(True)
    out = block(x)
    loss = (out * probe32.double()).sum()
    loss.backward()

    t = {"input": f32(x32), "probe": f32(probe32), "output": f32(out), "loss": f32(loss.reshape(1)),
         "grad.input": f32(x.grad)}
    for name, p in block.named_parameters():
        t["param." + name] = f32(p)
        t["grad." + name] = f32(p.grad)
    config = {"in": RES_IN, "out": RES_OUT, "groups": RES_GROUPS, "eps": RES_EPS, "input": list(RES_SHAPE),
              "forward": "skip(x) + conv2(silu(norm2(conv1(silu(norm1(x)))))); conv 3x3 pad 1 with bias; skip 1x1",
              "groupnorm_affine": "weight uniform(0.5, 1.5), bias uniform(-0.2, 0.2)",
              "loss": "sum(output * probe)"}
    return t, metadata(RESBLOCK_SEED, "VQGAN-style tokenizer ResBlock 64->128 with 1x1 skip, GroupNorm(32, eps 1e-6), SiLU",
                       config)


# ---------------------------------------------------------------------------------------------------------------
# VectorQuantizer (org.tessella.tokenizer.VectorQuantizer): LlamaGen VectorQuantizer with l2-normalised latents and
# codebook, nearest code by cosine (argmin of squared distance between unit vectors), straight-through estimator.

QUANT_SEED = 7100  # first seed tried; the one used is the first from here whose top-2 cosine gap exceeds QUANT_MIN_GAP
QUANT_MIN_GAP = 1e-4
QUANT_K, QUANT_D = 16, 8
QUANT_SHAPE = (2, 8, QUANT_D)
QUANT_BETA = 0.25


def quantizer_reference():
    for seed in range(QUANT_SEED, QUANT_SEED + 1000):
        torch.manual_seed(seed)
        z32 = torch.randn(*QUANT_SHAPE, dtype=torch.float32)
        cb32 = torch.empty(QUANT_K, QUANT_D, dtype=torch.float32).uniform_(-1.0 / QUANT_K, 1.0 / QUANT_K)
        probe32 = torch.randn(*QUANT_SHAPE, dtype=torch.float32)
        cos = F.normalize(z32.double(), dim=-1) @ F.normalize(cb32.double(), dim=-1).t()
        top2 = cos.topk(2, dim=-1).values
        gap = float((top2[..., 0] - top2[..., 1]).min())
        if gap > QUANT_MIN_GAP:
            break
    else:
        raise RuntimeError("no seed with a clear nearest code")

    z = z32.double().requires_grad_(True)
    cb = cb32.double().requires_grad_(True)
    zn = F.normalize(z, p=2, dim=-1)
    cbn = F.normalize(cb, p=2, dim=-1)
    flat = zn.reshape(-1, QUANT_D)
    d = (flat ** 2).sum(1, keepdim=True) + (cbn ** 2).sum(1) - 2 * flat @ cbn.t()  # LlamaGen's distance
    idx = torch.argmin(d, dim=1)
    q = cbn[idx].view(zn.shape)
    codebook_loss = torch.mean((q - zn.detach()) ** 2)
    commit_loss = torch.mean((q.detach() - zn) ** 2)
    quantized = zn + (q - zn).detach()
    loss = codebook_loss + QUANT_BETA * commit_loss + (quantized * probe32.double()).sum()
    loss.backward()

    t = {"input": f32(z32), "param.embedding.weight": f32(cb32), "probe": f32(probe32), "latents": f32(zn),
         "quantized": f32(quantized), "indices": idx.view(QUANT_SHAPE[:2]).to(torch.int32).numpy(),
         "codebook_loss": f32(codebook_loss.reshape(1)), "commit_loss": f32(commit_loss.reshape(1)),
         "loss": f32(loss.reshape(1)), "grad.input": f32(z.grad), "grad.embedding.weight": f32(cb.grad)}
    config = {"codebook_size": QUANT_K, "code_dim": QUANT_D, "input": list(QUANT_SHAPE), "normalize_eps": 1e-12,
              "codebook_init": "uniform(-1/K, 1/K) as LlamaGen", "min_top2_cosine_gap": gap,
              "required_min_gap": QUANT_MIN_GAP,
              "forward": "zn = normalize(z); e = normalize(W); idx = argmin ||zn - e||^2; q = e[idx]; "
                         "quantized = zn + (q - zn).detach()",
              "losses": "codebook_loss = mean((q - sg(zn))^2); commit_loss = mean((sg(q) - zn)^2)",
              "loss": f"codebook_loss + {QUANT_BETA} * commit_loss + sum(quantized * probe)"}
    return t, metadata(seed, "LlamaGen-style l2-normalised vector quantizer with straight-through estimator "
                             f"(seed searched from {QUANT_SEED} for a top-2 cosine gap > {QUANT_MIN_GAP})", config)


# ---------------------------------------------------------------------------------------------------------------
# CRT regularizer (org.tessella.tokenizer.CrtRegularizer): in_proj -> 2 LlamaGen blocks (d=64, 4 heads, 1-D RoPE,
# SwiGLU 192, RMSNorm 1e-5, no biases) -> norm -> out_proj; next-latent MSE on normalised latents.

CRT_SEED = 7200
CRT_D, CRT_DIM, CRT_HEADS, CRT_HIDDEN, CRT_LAYERS, CRT_EPS, CRT_ROPE_BASE = 8, 64, 4, 192, 2, 1e-5, 10000.0
CRT_SHAPE = (2, 16, CRT_D)


class _RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class _Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.wqkv = nn.Linear(dim, 3 * dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)

    def forward(self, x, cache):
        b, t, _ = x.shape
        q, k, v = self.wqkv(x).split([self.dim] * 3, dim=-1)
        q = apply_rope(q.view(b, t, self.heads, self.head_dim), cache).transpose(1, 2)
        k = apply_rope(k.view(b, t, self.heads, self.head_dim), cache).transpose(1, 2)
        v = v.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        scores = (q @ k.transpose(-2, -1)) / (self.head_dim ** 0.5)
        scores = scores.masked_fill(~torch.ones(t, t, dtype=torch.bool).tril(), float("-inf"))
        y = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).contiguous().view(b, t, self.dim)
        return self.wo(y)


class _FeedForward(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class _Block(nn.Module):
    def __init__(self, dim, heads, hidden, eps):
        super().__init__()
        self.attention = _Attention(dim, heads)
        self.feed_forward = _FeedForward(dim, hidden)
        self.attention_norm = _RMSNorm(dim, eps)
        self.ffn_norm = _RMSNorm(dim, eps)

    def forward(self, x, cache):
        h = x + self.attention(self.attention_norm(x), cache)
        return h + self.feed_forward(self.ffn_norm(h))


class CrtRegularizer(nn.Module):
    def __init__(self):
        super().__init__()
        self.in_proj = nn.Linear(CRT_D, CRT_DIM, bias=False)
        self.layers = nn.ModuleList([_Block(CRT_DIM, CRT_HEADS, CRT_HIDDEN, CRT_EPS) for _ in range(CRT_LAYERS)])
        self.norm = _RMSNorm(CRT_DIM, CRT_EPS)
        self.out_proj = nn.Linear(CRT_DIM, CRT_D, bias=False)

    def forward(self, x):
        cache = rope_cache(x.shape[1], CRT_DIM // CRT_HEADS, CRT_ROPE_BASE, torch.float64).to(x.dtype)
        h = self.in_proj(x)
        for layer in self.layers:
            h = layer(h, cache)
        return self.out_proj(self.norm(h))

    def loss(self, latents, detach_target):
        pred = self(latents[:, :-1])
        target = latents[:, 1:]
        if detach_target:
            target = target.detach()
        return F.mse_loss(pred, target), pred


def regularizer_reference():
    torch.manual_seed(CRT_SEED)
    reg = CrtRegularizer()  # Linear layers: PyTorch default init, float32
    with torch.no_grad():
        for m in reg.modules():
            if isinstance(m, _RMSNorm):
                m.weight.uniform_(0.5, 1.5)
    x32 = F.normalize(torch.randn(*CRT_SHAPE, dtype=torch.float32), dim=-1)

    reg = reg.double()
    x = x32.double().requires_grad_(True)
    loss, pred = reg.loss(x, False)
    loss.backward()
    t = {"input": f32(x32), "output": f32(pred), "loss": f32(loss.reshape(1)), "grad.input": f32(x.grad)}
    for name, p in reg.named_parameters():
        t["param." + name] = f32(p)
        t["grad." + name] = f32(p.grad)
    xd = x32.double().requires_grad_(True)
    loss_d, _ = reg.loss(xd, True)
    loss_d.backward()
    t["grad.input_detach_target"] = f32(xd.grad)
    config = {"code_dim": CRT_D, "dim": CRT_DIM, "heads": CRT_HEADS, "ffn_hidden": CRT_HIDDEN, "layers": CRT_LAYERS,
              "norm_eps": CRT_EPS, "rope_base": CRT_ROPE_BASE, "rope": "1-D over positions 0..N-2, interleaved pairs",
              "input": list(CRT_SHAPE), "input_note": "normalize(randn) in float32 (the quantizer's latents)",
              "rmsnorm_weights": "uniform(0.5, 1.5)", "bias": False,
              "forward": "out_proj(norm(layers(in_proj(x[:, :-1]))))",
              "loss": "mse(prediction, x[:, 1:]) (target not detached); grad.input_detach_target: the same loss "
                      "with the target detached"}
    return t, metadata(CRT_SEED, "CRT causal regularizer: next-latent MSE of a 2-block causal transformer", config)


# ---------------------------------------------------------------------------------------------------------------

# (file name without extension, function): append new references here.
REFERENCES = [
    ("resblock", resblock_reference),
    ("quantizer", quantizer_reference),
    ("crt_regularizer", regularizer_reference),
]


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(root, "src", "test", "resources", "parity"),
                    help="output folder (default: src/test/resources/parity)")
    ap.add_argument("--only", nargs="*", default=None, help="names of the references to write (default: all)")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    known = [name for name, _ in REFERENCES]
    for name in args.only or []:
        if name not in known:
            raise SystemExit(f"unknown reference '{name}': choose from {', '.join(known)}")
    for name, fn in REFERENCES:
        if args.only and name not in args.only:
            continue
        tensors, meta = fn()
        path = os.path.join(args.out, name + ".safetensors")
        write_safetensors(path, tensors, meta)
        back, back_meta = read_safetensors(path)  # self-check of the writer
        assert back_meta == meta and sorted(back) == sorted(tensors)
        for k, v in tensors.items():
            assert back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v), k
        loss = f" loss {float(tensors['loss'][0]):.6f}" if "loss" in tensors else ""
        print(f"wrote {os.path.relpath(path)}: {len(tensors)} tensors, {os.path.getsize(path)} bytes,{loss}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
