#!/usr/bin/python3
"""PyTorch twin of `tessella bench train`: times one full training step (forward, backward, global-norm clipping,
AdamW) of the reference configurations gpt-s, gpt-m and vq-s (DESIGN.md section 3) on the CPU or a CUDA GPU, with the same layer sizes,
batch, optimizer settings and synthetic data shapes as Tessella's TrainBench, and writes a JSON that
`tessella bench train --peer FILE` puts next to its own numbers.

  gpt-s  LlamaGen-style transformer: token embedding 1024, class embedding 10 + 1 null, 6 pre-RMSNorm blocks (d 256,
         8 heads, 1-D RoPE, SwiGLU 768, no biases), final RMSNorm, linear head; sequence = class token + 64 tokens,
         mean cross-entropy over the 64 targets; AdamW betas (0.9, 0.95), lr 1e-3, weight decay 0.05 on Linear weights;
         clip 1.0. Throughput: batch * 64 target tokens per step.
  gpt-m  the same with d 384, 8 blocks, 6 heads, SwiGLU 1024.
  vq-s   VQ tokenizer 1x32x32 -> 8x8 codes of dimension 8 (codebook 1024, l2-normalised, cosine nearest code,
         straight-through) -> 1x32x32; loss = mse + codebook loss + 0.25 * commitment loss; AdamW betas (0.9, 0.95),
         lr 1e-3, no weight decay; clip 1.0. Throughput: images per step.

The blocks come from the parity references (tools/parity_reference.py, tools/tokenizer_parity_reference.py): their
ResBlock, transformer _Block, RMSNorm and RoPE. Attention uses F.scaled_dot_product_attention (causal) where torch
has it (2.x) and the parity references' explicit softmax otherwise (1.13); `--attention manual` forces the latter.
Module names are Tessella's state_dict names, so `--weights DIR` loads DIR/<model>.safetensors written by
`tessella bench train --export-weights DIR` strictly (this checks that both have the same layers and sizes), and the
synthetic batch stored beside them (when its batch size matches), so the first step's loss can be compared too.

Each model runs in its own process (this script re-invokes itself with --child), so peak_rss_mb (ru_maxrss of that
process, MiB) is the model's own peak, interpreter and torch included; --in-process runs them all in this one.

--device cuda runs on the GPU (eager mode, the model and the batch moved once, the clock read after
torch.cuda.synchronize()); --matmul fp32 (default) turns TF32 off for matrix products and cuDNN convolutions,
--matmul tf32 turns it on for both, as Tessella's `bench train --device cuda --matmul tf32` does. peak_device_mb is
torch.cuda.max_memory_allocated.

usage: /usr/bin/python3 tools/bench_train_peer.py [--models gpt-s,vq-s] [--batch 64] [--steps 5] [--warmup 2]
                                                  [--threads N] [--out peer.json] [--weights DIR] [--attention auto]
                                                  [--device cpu|cuda] [--matmul fp32|tf32] [--in-process] [--profile]
Runs with Debian's torch 1.13 (/usr/bin/python3) and with torch 2.x.
"""

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity_reference import RMSNorm, apply_rope, read_safetensors, rope_cache  # noqa: E402
from tokenizer_parity_reference import ResBlock, _Attention, _Block  # noqa: E402

MODELS = ("gpt-s", "gpt-m", "vq-s")
SEED = 1

# gpt-s and gpt-m (GptConfig.preset(name, 1024, 64, 8, 8, 10)): width, blocks, heads, SwiGLU hidden
VOCAB, LENGTH, CLASSES = 1024, 64, 10
GPT_SIZES = {"gpt-s": (256, 6, 8, 768), "gpt-m": (384, 8, 6, 1024)}
NORM_EPS, ROPE_BASE = 1e-5, 10000.0
GPT_LR, GPT_WD, CLIP = 1e-3, 0.05, 1.0

# vq-s (VqConfig.preset("vq-s"))
CH, CODE_DIM, CODEBOOK, GROUPS, GN_EPS, COMMIT, IMAGE = 64, 8, 1024, 32, 1e-6, 0.25, 32
VQ_LR, VQ_WD = 1e-3, 0.0


# ---------------------------------------------------------------------------------------------------------------
# gpt-s

class SdpaAttention(_Attention):
    """The parity reference's attention (same wqkv/wo weights, interleaved RoPE) with torch 2.x's fused causal SDPA."""

    def forward(self, x, cache):
        b, t, _ = x.shape
        q, k, v = self.wqkv(x).split([self.dim] * 3, dim=-1)
        q = apply_rope(q.view(b, t, self.heads, self.head_dim), cache).transpose(1, 2)
        k = apply_rope(k.view(b, t, self.heads, self.head_dim), cache).transpose(1, 2)
        v = v.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.wo(y.transpose(1, 2).contiguous().view(b, t, self.dim))


class Gpt(nn.Module):
    """Tessella's org.tessella.ar.Gpt: [class, z_1 .. z_63] -> logits predicting z_1 .. z_64."""

    def __init__(self, sdpa, size="gpt-s"):
        super().__init__()
        dim, layers, heads, hidden = GPT_SIZES[size]
        self.tok_embeddings = nn.Embedding(VOCAB, dim)
        self.cls_embedding = nn.Embedding(CLASSES + 1, dim)
        self.layers = nn.ModuleList([_Block(dim, heads, hidden, NORM_EPS) for _ in range(layers)])
        if sdpa:
            for blk in self.layers:
                blk.attention = SdpaAttention(dim, heads)
        self.norm = RMSNorm(dim, NORM_EPS)
        self.output = nn.Linear(dim, VOCAB, bias=False)
        self.register_buffer("rope", rope_cache(LENGTH, dim // heads, ROPE_BASE, torch.float32), persistent=False)
        for name, p in self.named_parameters():  # LlamaGen's init, as Tessella's
            if name.endswith(("wqkv.weight", "wo.weight")) or ".feed_forward." in name:
                nn.init.normal_(p, 0.0, 0.02)
        nn.init.normal_(self.tok_embeddings.weight, 0.0, 0.02)
        nn.init.normal_(self.cls_embedding.weight, 0.0, 0.02)
        nn.init.zeros_(self.output.weight)

    def forward(self, labels, tokens):
        h = torch.cat([self.cls_embedding(labels).unsqueeze(1), self.tok_embeddings(tokens[:, :-1])], dim=1)
        for layer in self.layers:
            h = layer(h, self.rope)
        return self.output(self.norm(h))

    def loss(self, labels, tokens):
        logits = self(labels, tokens)
        return F.cross_entropy(logits.reshape(-1, VOCAB), tokens.reshape(-1))


# ---------------------------------------------------------------------------------------------------------------
# vq-s

def conv(cin, cout, k, stride=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class Encoder(nn.Module):
    """org.tessella.tokenizer.Encoder for 64 tokens: 32x32 -> 16x16 -> 8x8, symmetric padding on the stride-2 convs."""

    def __init__(self):
        super().__init__()
        c, c2 = CH, 2 * CH
        self.conv_in = conv(1, c, 3)
        self.res1 = ResBlock(c, c, GROUPS, GN_EPS)
        self.down1 = conv(c, c, 3, 2)
        self.res2 = ResBlock(c, c2, GROUPS, GN_EPS)
        self.down2 = conv(c2, c2, 3, 2)
        self.res3 = ResBlock(c2, c2, GROUPS, GN_EPS)
        self.norm_out = nn.GroupNorm(GROUPS, c2, eps=GN_EPS)
        self.conv_out = conv(c2, CODE_DIM, 1)

    def forward(self, x):
        h = self.res1(self.conv_in(x))
        h = self.res2(self.down1(h))
        h = self.res3(self.down2(h))
        return self.conv_out(F.silu(self.norm_out(h)))


class Decoder(nn.Module):
    """org.tessella.tokenizer.Decoder: the mirror, nearest-neighbour x2 then conv3x3 at each stage."""

    def __init__(self):
        super().__init__()
        c, c2 = CH, 2 * CH
        self.conv_in = conv(CODE_DIM, c2, 1)
        self.res1 = ResBlock(c2, c2, GROUPS, GN_EPS)
        self.up1 = conv(c2, c2, 3)
        self.res2 = ResBlock(c2, c, GROUPS, GN_EPS)
        self.up2 = conv(c, c, 3)
        self.res3 = ResBlock(c, c, GROUPS, GN_EPS)
        self.norm_out = nn.GroupNorm(GROUPS, c, eps=GN_EPS)
        self.conv_out = conv(c, 1, 3)

    def forward(self, z):
        h = self.res1(self.conv_in(z))
        h = self.res2(self.up1(F.interpolate(h, scale_factor=2, mode="nearest")))
        h = self.res3(self.up2(F.interpolate(h, scale_factor=2, mode="nearest")))
        return self.conv_out(F.silu(self.norm_out(h)))


class Quantizer(nn.Module):
    """org.tessella.tokenizer.VectorQuantizer (as tokenizer_parity_reference.quantizer_reference computes it)."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(CODEBOOK, CODE_DIM)
        nn.init.uniform_(self.embedding.weight, -1.0 / CODEBOOK, 1.0 / CODEBOOK)

    def forward(self, z):  # z: [B, N, D]
        zn = F.normalize(z, p=2, dim=-1)
        cbn = F.normalize(self.embedding.weight, p=2, dim=-1)
        with torch.no_grad():
            idx = torch.argmax(zn.reshape(-1, CODE_DIM) @ cbn.t(), dim=1)
        q = F.embedding(idx, cbn).view(zn.shape)
        codebook_loss = torch.mean((q - zn.detach()) ** 2)
        commit_loss = torch.mean((q.detach() - zn) ** 2)
        return zn + (q - zn).detach(), idx, codebook_loss, commit_loss


class VqTokenizer(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Encoder()
        self.quantizer = Quantizer()
        self.decoder = Decoder()

    def loss(self, images):
        z = self.encoder(images)  # [B, D, 8, 8]
        b, d, h, w = z.shape
        quantized, _, cb_loss, commit_loss = self.quantizer(z.reshape(b, d, h * w).permute(0, 2, 1).contiguous())
        recon = self.decoder(quantized.permute(0, 2, 1).reshape(b, d, h, w))
        return F.mse_loss(recon, images) + cb_loss + COMMIT * commit_loss


# ---------------------------------------------------------------------------------------------------------------
# timing

def adamw(model, lr, wd):
    """Two groups as Tessella's Parameter.decay(): Linear and Conv2d weights decay, everything else does not."""
    decay = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))}
    params = list(model.parameters())
    groups = [{"params": [p for p in params if id(p) in decay], "weight_decay": wd},
              {"params": [p for p in params if id(p) not in decay], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95), eps=1e-8)


INPUT_PREFIX = "bench_input."


def load_weights(model, path):
    """Loads the weights strictly; returns the synthetic inputs stored beside them (name -> tensor)."""
    tensors, _ = read_safetensors(path)
    state = {k: torch.from_numpy(v.copy()) for k, v in tensors.items() if not k.startswith(INPUT_PREFIX)}
    model.load_state_dict(state, strict=True)
    return {k[len(INPUT_PREFIX):]: torch.from_numpy(v.copy()) for k, v in tensors.items() if k.startswith(INPUT_PREFIX)}


def peak_rss_mb():
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / (1024.0 * 1024.0) if sys.platform == "darwin" else r / 1024.0  # bytes on macOS, KiB on Linux


def profiled(cuda, enabled):
    """torch.profiler over the timed steps when --profile asks for it (device kernels on CUDA), else a no-op."""
    if not enabled:
        return contextlib.nullcontext()
    acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
    return torch.profiler.profile(activities=acts)


def print_profile(prof, cuda):
    keys = ["self_device_time_total", "self_cuda_time_total"] if cuda else ["self_cpu_time_total"]
    for key in keys:
        try:
            print(prof.key_averages().table(sort_by=key, row_limit=30, max_name_column_width=90), flush=True)
            return
        except (AttributeError, KeyError, ValueError):
            continue


def measure(name, batch, steps, warmup, weights, sdpa, device="cpu", profile=False):
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    if name.startswith("gpt-"):
        model = Gpt(sdpa, name)
        tokens = torch.randint(0, VOCAB, (batch, LENGTH), generator=g)
        labels = torch.randint(0, CLASSES, (batch,), generator=g)
        labels[torch.arange(batch) % 11 == 10] = CLASSES  # null class, as the Java side
        opt = adamw(model, GPT_LR, GPT_WD)
        inputs, unit, per_step = (labels, tokens), "tokens", batch * LENGTH
    else:
        model = VqTokenizer()
        images = torch.rand(batch, 1, IMAGE, IMAGE, generator=g) * 2 - 1
        opt = adamw(model, VQ_LR, VQ_WD)
        inputs, unit, per_step = (images,), "images", batch
    source = "torch random"
    if weights:
        stored = load_weights(model, os.path.join(weights, name + ".safetensors"))
        if name.startswith("gpt-") and "tokens" in stored and stored["tokens"].shape[0] == batch:
            inputs, source = (stored["labels"].long(), stored["tokens"].long()), "tessella"
        elif name == "vq-s" and "images" in stored and stored["images"].shape[0] == batch:
            inputs, source = (stored["images"],), "tessella"
    cuda = device != "cpu"
    if cuda:  # the model, its optimizer state and the batch live on the GPU; the batch is moved once, as Tessella's
        model.to(device)  # in place: the optimizer's parameters move too (its state is made at the first step)
        inputs = tuple(t.to(device) for t in inputs)
        torch.cuda.reset_peak_memory_stats()
    model.train()
    params = list(model.parameters())
    last, first = [float("nan")], []

    def step():
        loss = model.loss(*inputs)
        last[0] = loss.item()
        if last[0] != last[0] or abs(last[0]) == float("inf"):
            raise RuntimeError(f"{name}: loss became {last[0]}")
        if not first:
            first.append(last[0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    with profiled(cuda, profile) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        if cuda:
            torch.cuda.synchronize()
        secs = time.perf_counter() - t0
    if profile:
        print_profile(prof, cuda)
    r = {"model": name, "parameters": sum(p.numel() for p in params), "unit": unit, unit + "_per_step": per_step,
         unit + "_per_second": steps * per_step / secs, "ms_per_step": secs * 1e3 / steps,
         "peak_rss_mb": peak_rss_mb(), "first_loss": first[0], "final_loss": last[0],
         "weights": "tessella" if weights else "pytorch init", "inputs": source, "device": device}
    if cuda:
        r["peak_device_mb"] = torch.cuda.max_memory_allocated() / (1024.0 * 1024.0)
    print(f"  {name:6s} {r['parameters']:,} parameters: {r[unit + '_per_second']:.1f} {unit}/s, "
          f"{r['ms_per_step']:.1f} ms/step, peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out", default="peer.json")
    ap.add_argument("--weights", default=None, help="directory with <model>.safetensors from tessella bench train --export-weights")
    ap.add_argument("--attention", choices=("auto", "manual"), default="auto",
                    help="auto: fused SDPA where torch has it (2.x), else manual; manual: always the explicit softmax")
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    ap.add_argument("--matmul", choices=("fp32", "tf32"), default="fp32",
                    help="on cuda: fp32 (TF32 off for matmuls and cuDNN) or tf32 (on for both)")
    ap.add_argument("--in-process", action="store_true", help="run the models one after another in this process")
    ap.add_argument("--profile", action="store_true", help="print torch.profiler's kernel table for the timed steps "
                    "(the times then include the profiler's overhead)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    for m in models:
        if m not in MODELS:
            ap.error(f"--models: unknown model '{m}' (use {', '.join(MODELS)})")
    if a.batch < 1 or a.steps < 1 or a.warmup < 0 or a.threads < 1:
        ap.error("--batch, --steps and --threads must be at least 1, --warmup at least 0")
    sdpa = a.attention == "auto" and hasattr(F, "scaled_dot_product_attention")
    torch.set_num_threads(a.threads)
    device = a.device
    if device != "cpu":
        if not device.startswith("cuda") or not torch.cuda.is_available():
            ap.error(f"--device {device}: " + ("no CUDA GPU is usable by this torch" if device.startswith("cuda") else "use cpu or cuda[:N]"))
        device = str(torch.device(device if ":" in device else "cuda:0"))
        torch.cuda.set_device(torch.device(device))
        torch.backends.cuda.matmul.allow_tf32 = a.matmul == "tf32"
        torch.backends.cudnn.allow_tf32 = a.matmul == "tf32"

    if a.child:
        r = measure(a.child, a.batch, a.steps, a.warmup, a.weights, sdpa, device, a.profile)
        with open(a.child_out, "w") as f:
            json.dump(r, f)
        return

    where = f"{a.threads} threads" if device == "cpu" else f"{torch.cuda.get_device_name()} ({device}), matmul {a.matmul}"
    print(f"bench_train_peer: torch {torch.__version__}, {', '.join(models)}, batch {a.batch}, {where}, "
          f"{a.warmup} warm-up + {a.steps} timed steps, attention {'sdpa' if sdpa else 'manual'}", flush=True)
    result = {"engine": "pytorch", "torch_version": torch.__version__, "python_version": platform.python_version(),
              "cores": os.cpu_count(), "threads": a.threads, "batch": a.batch, "steps": a.steps, "warmup": a.warmup,
              "attention": "sdpa" if sdpa else "manual", "device": device,
              "rss_scope": "process peak so far (one process)" if a.in_process else "per model (one process each)", "models": {}}
    if device != "cpu":
        result.update({"device_name": torch.cuda.get_device_name(), "matmul": a.matmul, "cuda_version": torch.version.cuda})
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), MKL_NUM_THREADS=str(a.threads),
               OPENBLAS_NUM_THREADS=str(a.threads))
    for m in models:
        if a.in_process:
            result["models"][m] = measure(m, a.batch, a.steps, a.warmup, a.weights, sdpa, device, a.profile)
            continue
        fd, tmp = tempfile.mkstemp(prefix=f"bench-peer-{m}-", suffix=".json")
        os.close(fd)
        try:
            cmd = [sys.executable, os.path.abspath(__file__), "--child", m, "--child-out", tmp, "--batch", str(a.batch),
                   "--steps", str(a.steps), "--warmup", str(a.warmup), "--threads", str(a.threads),
                   "--attention", a.attention, "--device", device, "--matmul", a.matmul] + (["--profile"] if a.profile else [])
            if a.weights:
                cmd += ["--weights", a.weights]
            subprocess.run(cmd, env=env, check=True)
            with open(tmp) as f:
                result["models"][m] = json.load(f)
        finally:
            os.unlink(tmp)
    out_dir = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(out_dir, exist_ok=True)
    with open(a.out + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(a.out + ".tmp", a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
