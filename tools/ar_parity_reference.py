#!/usr/bin/python3
"""PyTorch reference for Tessella's stage-2 transformer (org.tessella.ar.Gpt): one training step.

Builds a tiny LlamaGen-style class-conditional GPT with fixed random weights and writes its inputs, weights, logits,
loss and every parameter gradient to
  src/test/resources/parity/gpt_step.safetensors
which src/test/java/org/tessella/ar/GptParityTest.java compares against.

Model (the same as Gpt.java): the sequence is [cls, z_1 .. z_8]; h = concat(cls_embedding[label], tok_embeddings[z_1..z_8]);
2 pre-RMSNorm blocks (causal multi-head attention with 1-D RoPE on interleaved pairs, positions 0..8 with position 0 the
class token; SwiGLU MLP; no biases); final RMSNorm; untied linear head -> logits [B, 9, vocab]; loss = mean
cross-entropy of the logits against z_1 .. z_9.

Weights and inputs are drawn in float32 (so the stored values are exactly what PyTorch used), then everything is
computed in float64 and rounded to float32 only when stored. Unlike Gpt's own init, the head is NOT zero and the norm
gains are random around 1, so every gradient is non-trivial.

Tensor names: param.<name> (Tessella / LlamaGen state_dict names), grad.<name>, labels (I32 [B]), tokens (I32 [B, 9]),
logits [B, 9, vocab], loss [1].

Run with the system Python (PyTorch 1.13; no safetensors package needed, the writer comes from parity_reference.py):
  /usr/bin/python3 tools/ar_parity_reference.py [--out DIR]
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in tools/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity_reference import RMSNorm, apply_rope, common_metadata, f32, read_safetensors, rope_cache, write_safetensors  # noqa: E402

SEED = 2024
VOCAB, LENGTH, CLASSES = 37, 9, 4            # classes + 1 null class (id 4) in the class embedding
DIM, LAYERS, HEADS, HIDDEN = 32, 2, 4, 64
HEAD_DIM = DIM // HEADS
EPS, ROPE_BASE = 1e-5, 10000.0
B = 3
LABELS = [1, CLASSES, 3]                    # includes the null class


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.wqkv = nn.Linear(DIM, 3 * DIM, bias=False)
        self.wo = nn.Linear(DIM, DIM, bias=False)

    def forward(self, x, cache):
        bsz, seqlen, _ = x.shape
        q, k, v = self.wqkv(x).split([DIM, DIM, DIM], dim=-1)
        q = apply_rope(q.view(bsz, seqlen, HEADS, HEAD_DIM), cache)
        k = apply_rope(k.view(bsz, seqlen, HEADS, HEAD_DIM), cache)
        v = v.view(bsz, seqlen, HEADS, HEAD_DIM)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(HEAD_DIM)
        causal = torch.ones(seqlen, seqlen, dtype=torch.bool).tril()
        y = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1) @ v
        return self.wo(y.transpose(1, 2).contiguous().view(bsz, seqlen, DIM))


class FeedForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = nn.Linear(DIM, HIDDEN, bias=False)
        self.w3 = nn.Linear(DIM, HIDDEN, bias=False)
        self.w2 = nn.Linear(HIDDEN, DIM, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention_norm = RMSNorm(DIM, EPS)
        self.attention = Attention()
        self.ffn_norm = RMSNorm(DIM, EPS)
        self.feed_forward = FeedForward()

    def forward(self, x, cache):
        h = x + self.attention(self.attention_norm(x), cache)
        return h + self.feed_forward(self.ffn_norm(h))


class Gpt(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_embeddings = nn.Embedding(VOCAB, DIM)
        self.cls_embedding = nn.Embedding(CLASSES + 1, DIM)
        self.layers = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.norm = RMSNorm(DIM, EPS)
        self.output = nn.Linear(DIM, VOCAB, bias=False)

    def forward(self, labels, tokens):
        cache = rope_cache(LENGTH, HEAD_DIM, ROPE_BASE, self.output.weight.dtype)
        h = torch.cat([self.cls_embedding(labels).unsqueeze(1), self.tok_embeddings(tokens[:, :-1])], dim=1)
        for layer in self.layers:
            h = layer(h, cache)
        return self.output(self.norm(h))


def gpt_reference():
    torch.manual_seed(SEED)
    model = Gpt()  # Linear: PyTorch default init (uniform +-1/sqrt(in)); embeddings N(0, 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.uniform_(0.5, 1.5)
            elif "embedding" in name:
                p.normal_(0.0, 0.5)
            elif name == "output.weight":
                p.normal_(0.0, 0.3)  # logits of a few units, so the softmax is far from uniform
    labels = torch.tensor(LABELS, dtype=torch.int64)
    tokens = torch.randint(0, VOCAB, (B, LENGTH), dtype=torch.int64)

    model = model.double()
    logits = model(labels, tokens)
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), tokens.reshape(-1), reduction="mean")
    loss.backward()

    t = {"labels": labels.to(torch.int32).numpy(), "tokens": tokens.to(torch.int32).numpy(),
         "logits": f32(logits), "loss": f32(loss.reshape(1))}
    for name, p in model.named_parameters():
        t["param." + name] = f32(p)
        t["grad." + name] = f32(p.grad)
    config = {"vocab": VOCAB, "length": LENGTH, "classes": CLASSES, "null_class": CLASSES, "dim": DIM,
              "layers": LAYERS, "heads": HEADS, "head_dim": HEAD_DIM, "hidden": HIDDEN, "norm_eps": EPS,
              "rope_base": ROPE_BASE, "rope": "1-D, interleaved pairs, positions 0..length-1 (0 = class token)",
              "batch": B, "labels": LABELS,
              "sequence": "[cls_embedding[label], tok_embeddings[z_1..z_(length-1)]] -> logits [B, length, vocab]",
              "loss": "mean cross-entropy of logits against z_1..z_length",
              "init": "linear: PyTorch default; head N(0, 0.3); embeddings N(0, 0.5); norm gains uniform(0.5, 1.5)"}
    meta = common_metadata(SEED, "LlamaGen-style class-conditional GPT (org.tessella.ar.Gpt), one training step", config)
    meta["generator"] = "tools/ar_parity_reference.py"
    return t, meta


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(root, "src", "test", "resources", "parity"),
                    help="output folder (default: src/test/resources/parity)")
    args = ap.parse_args()
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    tensors, meta = gpt_reference()
    path = os.path.join(args.out, "gpt_step.safetensors")
    write_safetensors(path, tensors, meta)
    back, back_meta = read_safetensors(path)  # self-check of the writer
    assert back_meta == meta and sorted(back) == sorted(tensors)
    for k, v in tensors.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v), k
    print(f"wrote {os.path.relpath(path)}: {len(tensors)} tensors, {os.path.getsize(path)} bytes, "
          f"loss {float(tensors['loss'][0]):.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
