"""PyTorch timing of CFLOW-AD's decoders (METHODS.md §7.3-7.5), for comparison with Argus.

Our own script, written from the specification and the official code's structure (FrEIA itself is not
installed): per tap a chain of K AllInOneBlocks with FrEIA's semantics written out (split C1 = C - C//2,
subnet Linear(C1+P, 2(C1+P)) -> ReLU -> Linear(2(C1+P), 2*C2) on [x1, c], a *= 0.1, the old soft clamp
s = 1.9*tanh(a_s), x2' = x2*exp(s) + a_t, softplus global affine gamma = 0.1*softplus_{beta=0.5}(g),
y = W (gamma*u + beta) with a fixed Haar rotation W from scipy.stats.special_ortho_group, as FrEIA
draws it), log p = -(C/2) ln 2pi - |z|^2/2 + log|det J|, loss = mean(-logsigmoid(log p / C)), and one
Adam (lr 2e-4) over all decoders, as the official train loop.

Training: per sub-epoch and tap, the tap's in-memory fibres (random, feature-like) are shuffled and cut
into floor(F/N) steps of N = 256 fibres with their PE(128) conditions; seconds per sub-epoch, after a
warm-up of a few steps per tap. Inference: the official test loop for `images` images: each tap's fibres
in chunks of N under no_grad, then the map: exp(l - max l), bilinear align_corners=True upsampling to the
input size, sum over taps, max - P; milliseconds per image.

With `--features DIR --out DIR` (bench/cflow-parity.ts) it is the official method on real data instead of
a timing: it reads the tap features Argus extracted (DIR/meta.json; per tap train_<k>.f32 and
test_<k>.f32, float32 [n, C, H, W] as the official encoder hooks hold them) and runs the official
train.py loop on them: per sub-epoch the training images in shuffled batches of `batchImages`, per
batch and tap the batch's fibres shuffled and cut into floor(E/N) steps of N, the learning rate warmed
up per batch over the first warm-up meta-epochs and cosine per meta-epoch (lr_decay_rate 0.1,
eta_min = lr * 0.1**3, warm-up from lr/10), one Adam over all decoders. Then the official test: every
test fibre's log p / C, per tap minus its maximum over the whole test set (the transductive
normalisation), exp, bilinear align_corners upsampling, sum over taps, map = max - P over the test set.
Writes the maps (float32 [nTest, size, size]) to OUT/maps.f32 and prints one JSON line.

Prints one JSON line. Exits with status 3 and a message on stderr when torch cannot be imported.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np

try:
    import torch
    import torch.nn.functional as F
except ImportError as err:  # the bench reports this and skips
    print(f"cflow_torch: torch is not importable ({err})", file=sys.stderr)
    sys.exit(3)


def special_ortho(dim: int, gen: torch.Generator) -> torch.Tensor:
    """scipy.stats.special_ortho_group.rvs's algorithm (scipy may be missing), in float64."""
    H = torch.eye(dim, dtype=torch.float64)
    D = torch.empty(dim, dtype=torch.float64)
    for n in range(dim - 1):
        x = torch.randn(dim - n, dtype=torch.float64, generator=gen)
        norm2 = float(x @ x)
        x0 = float(x[0])
        D[n] = 1.0 if x0 == 0 else math.copysign(1.0, x0)
        x[0] += D[n] * math.sqrt(norm2)
        x /= math.sqrt((norm2 - x0 * x0 + float(x[0]) ** 2) / 2.0)
        H[:, n:] -= torch.outer(H[:, n:] @ x, x)
    D[-1] = (-1) ** (dim - 1) * torch.prod(D[:-1])
    return (D[:, None] * H).float()


def positional_encoding_2d(D: int, H: int, W: int) -> torch.Tensor:
    """The official CFLOW positionalencoding2d: [D, H, W]."""
    P = torch.zeros(D, H, W)
    D = D // 2
    div = torch.exp(torch.arange(0.0, D, 2) * -(math.log(1e4) / D))
    pw = torch.arange(0.0, W).unsqueeze(1)
    ph = torch.arange(0.0, H).unsqueeze(1)
    P[0:D:2] = torch.sin(pw * div).transpose(0, 1).unsqueeze(1).repeat(1, H, 1)
    P[1:D:2] = torch.cos(pw * div).transpose(0, 1).unsqueeze(1).repeat(1, H, 1)
    P[D::2] = torch.sin(ph * div).transpose(0, 1).unsqueeze(2).repeat(1, 1, W)
    P[D + 1 :: 2] = torch.cos(ph * div).transpose(0, 1).unsqueeze(2).repeat(1, 1, W)
    return P


class AllInOneBlock(torch.nn.Module):
    def __init__(self, C: int, P: int, gen: torch.Generator):
        super().__init__()
        self.c2 = C // 2
        self.c1 = C - self.c2
        hidden = 2 * (self.c1 + P)
        self.subnet = torch.nn.Sequential(torch.nn.Linear(self.c1 + P, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2 * self.c2))
        self.global_scale = torch.nn.Parameter(torch.full((C,), 2 * math.log(math.exp(5) - 1)))
        self.global_offset = torch.nn.Parameter(torch.zeros(C))
        self.register_buffer("w_perm", special_ortho(C, gen))

    def forward(self, x, c):
        x1, x2 = torch.split(x, [self.c1, self.c2], dim=1)
        a = self.subnet(torch.cat([x1, c], 1)) * 0.1
        s = 1.9 * torch.tanh(a[:, : self.c2])
        x2 = x2 * torch.exp(s) + a[:, self.c2 :]
        scale = 0.1 * F.softplus(self.global_scale, beta=0.5)
        y = F.linear(torch.cat([x1, x2], 1) * scale + self.global_offset, self.w_perm)
        return y, s.sum(1) + torch.log(scale).sum()


class Decoder(torch.nn.Module):
    def __init__(self, C: int, P: int, K: int, gen: torch.Generator):
        super().__init__()
        self.blocks = torch.nn.ModuleList([AllInOneBlock(C, P, gen) for _ in range(K)])

    def forward(self, x, c):
        logdet = 0
        for b in self.blocks:
            x, j = b(x, c)
            logdet = logdet + j
        return x, logdet


def log_likelihood(z, logdet):
    C = z.shape[1]
    return (-0.5 * C * math.log(2 * math.pi) - 0.5 * (z * z).sum(1) + logdet) / C


def official_learning_rate(m: dict, epoch: int, batch_id: int, total_batches: int) -> float:
    """The official adjust_learning_rate (cosine per meta-epoch) and warmup_learning_rate (per batch)."""
    lr = m["lr"]
    eta_min = lr * (0.1 ** 3)
    cosine = lambda e: eta_min + (lr - eta_min) * (1 + math.cos(math.pi * e / m["epochs"])) / 2
    if epoch < m["warmupEpochs"]:
        warm_from, warm_to = lr / 10, cosine(m["warmupEpochs"])
        p = (batch_id + epoch * total_batches) / (m["warmupEpochs"] * total_batches)
        return warm_from + p * (warm_to - warm_from)
    return cosine(epoch)


def official_on_features(a) -> None:
    m = json.load(open(os.path.join(a.features, "meta.json")))
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    N, P, K = m["fibersPerStep"], m["condition"], m["blocks"]
    taps = m["taps"]

    def read(split: str, t: int, n: int) -> torch.Tensor:
        tap = taps[t]
        raw = np.fromfile(os.path.join(a.features, f"{split}_{t}.f32"), dtype=np.float32)
        return torch.from_numpy(raw.reshape(n, tap["channels"], tap["gridH"], tap["gridW"]))

    train = [read("train", t, m["nTrain"]) for t in range(len(taps))]
    test = [read("test", t, m["nTest"]) for t in range(len(taps))]
    decoders = [Decoder(tap["channels"], P, K, gen) for tap in taps]
    optimizer = torch.optim.Adam([p for d in decoders for p in d.parameters()], lr=m["lr"])
    pes = [positional_encoding_2d(P, tap["gridH"], tap["gridW"]) for tap in taps]
    B = m["batchImages"]
    batches = math.ceil(m["nTrain"] / B)
    total_batches = batches * m["subEpochs"]
    start = time.perf_counter()
    for epoch in range(m["epochs"]):
        for d in decoders:
            d.train()
        for sub in range(m["subEpochs"]):
            order = torch.randperm(m["nTrain"])
            for i in range(batches):
                lr = official_learning_rate(m, epoch, i + sub * batches, total_batches)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                idx = order[i * B:(i + 1) * B]
                for t, dec in enumerate(decoders):
                    e = train[t][idx]
                    b, C, H, W = e.shape
                    S, E = H * W, b * H * W
                    c_r = pes[t].unsqueeze(0).repeat(b, 1, 1, 1).reshape(b, P, S).transpose(1, 2).reshape(E, P)
                    e_r = e.reshape(b, C, S).transpose(1, 2).reshape(E, C)
                    perm = torch.randperm(E)
                    for f in range(E // N):
                        sel = perm[f * N:(f + 1) * N]
                        z, logdet = dec(e_r[sel], c_r[sel])
                        loss = -F.logsigmoid(log_likelihood(z, logdet))
                        optimizer.zero_grad()
                        loss.mean().backward()
                        optimizer.step()
    train_seconds = time.perf_counter() - start

    for d in decoders:
        d.eval()
    P_map = None
    with torch.no_grad():
        for t, dec in enumerate(decoders):
            tap = taps[t]
            e = test[t]
            n, C, H, W = e.shape
            S, E = H * W, n * H * W
            c_r = pes[t].unsqueeze(0).repeat(n, 1, 1, 1).reshape(n, P, S).transpose(1, 2).reshape(E, P)
            e_r = e.reshape(n, C, S).transpose(1, 2).reshape(E, C)
            ll = torch.cat([log_likelihood(*dec(e_r[f:f + N], c_r[f:f + N])) for f in range(0, E, N)]).double()
            prob = torch.exp(ll - ll.max()).reshape(n, 1, H, W)
            up = F.interpolate(prob, size=(m["size"], m["size"]), mode="bilinear", align_corners=True).squeeze(1)
            P_map = up if P_map is None else P_map + up
    maps = (P_map.max() - P_map).float().numpy()
    maps.tofile(os.path.join(a.out, "maps.f32"))
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "seed": a.seed, "trainSeconds": train_seconds}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", default="192,576,1280")
    ap.add_argument("--fibres", default="50176,12544,3136", help="training fibres per tap per sub-epoch")
    ap.add_argument("--cells", default="1024,256,64", help="fibres per image per tap (grid cells)")
    ap.add_argument("--grids", default="32,16,8", help="grid side per tap")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--blocks", type=int, default=8)
    ap.add_argument("--condition", type=int, default=128)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--sub-epochs", type=int, default=1, help="timed sub-epochs")
    ap.add_argument("--images", type=int, default=8, help="images for the inference timing")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--features", help="the official training and test on these features (see the module text)")
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.features:
        official_on_features(a)
        return

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    channels = [int(v) for v in a.channels.split(",")]
    fibres = [int(v) for v in a.fibres.split(",")]
    grids = [int(v) for v in a.grids.split(",")]
    N, P = a.batch, a.condition
    decoders = [Decoder(C, P, a.blocks, gen) for C in channels]
    params = [p for d in decoders for p in d.parameters()]
    optimizer = torch.optim.Adam(params, lr=2e-4)
    feats = [torch.randn(Fn, C) * 0.5 + 0.2 for Fn, C in zip(fibres, channels)]
    pes = [positional_encoding_2d(P, g, g).reshape(P, -1).t().contiguous() for g in grids]

    def train_steps(t: int, order: torch.Tensor, steps: int) -> float:
        dec = decoders[t]
        loss_sum = 0.0
        for i in range(steps):
            idx = order[i * N : (i + 1) * N]
            e = feats[t][idx]
            c = pes[t][idx % pes[t].shape[0]]
            z, logdet = dec(e, c)
            loss = -F.logsigmoid(log_likelihood(z, logdet)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach())
        return loss_sum

    for t in range(len(decoders)):  # warm-up
        train_steps(t, torch.randperm(fibres[t]), min(3, max(1, fibres[t] // N)))
    seconds = []
    for _ in range(a.sub_epochs):
        start = time.perf_counter()
        for t in range(len(decoders)):
            train_steps(t, torch.randperm(fibres[t]), max(1, fibres[t] // N))
        seconds.append(time.perf_counter() - start)

    for d in decoders:
        d.eval()
    test = [torch.randn(a.images * g * g, C) * 0.5 + 0.2 for g, C in zip(grids, channels)]

    def infer(count: int) -> None:
        with torch.no_grad():
            P_map = 0
            for t, dec in enumerate(decoders):
                g = grids[t]
                e_all = test[t][: count * g * g]
                c_all = pes[t].repeat(count, 1)
                out = []
                for f in range(0, e_all.shape[0], N):
                    z, logdet = dec(e_all[f : f + N], c_all[f : f + N])
                    out.append(log_likelihood(z, logdet))
                ll = torch.cat(out)
                prob = torch.exp(ll - ll.max()).reshape(count, 1, g, g)
                P_map = P_map + F.interpolate(prob, size=(a.size, a.size), mode="bilinear", align_corners=True).squeeze(1)
            _ = (P_map.max() - P_map).reshape(count, -1).max(1).values

    infer(1)  # warm-up
    start = time.perf_counter()
    for _ in range(a.images):
        infer(1)
    ms_bs1 = (time.perf_counter() - start) * 1000 / a.images
    start = time.perf_counter()
    infer(a.images)
    ms_bs8 = (time.perf_counter() - start) * 1000 / a.images
    print(json.dumps({
        "impl": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "stepsPerSubEpoch": [max(1, f // N) for f in fibres],
        "secondsPerSubEpoch": sum(seconds) / len(seconds),
        "subEpochSeconds": seconds,
        "msPerImageBs1": ms_bs1,
        "msPerImageBatch": ms_bs8,
    }))


if __name__ == "__main__":
    main()
