#!/usr/bin/python3
"""Extra PyTorch reference files for rlepose (development tool; the test suite never runs Python).

Writes flow, loss and network reference files of the schemas in /work/shared/golden/README.md into
test/fixtures/extra/, checks each one against an independent NumPy recomputation (and finite
differences for the gradients), and first checks this script's conventions against the public golden
files (realnvp2d/3d.json, rle2d.json, regressflow_official_basic.json + .safetensors).

Run with Debian's PyTorch (python3-torch 1.13, under /usr/bin/python3), from the repository root:

    /usr/bin/python3 scripts/make-references/make_refs.py [--golden /work/shared/golden] [--out test/fixtures/extra]

Everything is seeded: two runs write byte-identical files. Flow and loss references are computed in
float64 (parameters and inputs are float32 values, as in the public files); networks run in float32.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
LOG2PI = math.log(2 * math.pi)
AMP = 1 / math.sqrt(2 * math.pi)
VARIANTS = ['official', 'mmpose_laplace', 'mmpose_gaussian', 'no_residual', 'direct']

# ----------------------------------------------------------------------------------------------------
# JSON arrays


def arr(t):
    """{shape, data} row-major; float32 values are written as the exact float64 of the float32."""
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    if a.dtype == np.float32:
        a = a.astype(np.float64)
    return {'shape': list(a.shape), 'data': a.reshape(-1).tolist()}


def unarr(o, dtype=np.float64):
    return np.asarray(o['data'], dtype=dtype).reshape(o['shape'])


def dump(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f, separators=(',', ':'), allow_nan=False)
    return os.path.getsize(path)


def rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n = np.linalg.norm(b.reshape(-1))
    d = np.linalg.norm((a - b).reshape(-1))
    return d / n if n > 0 else d


def maxrel(a, b):
    """max_i |a_i - b_i| / max(|b_i|, 1e-300) over nonzero refs, and exact check elsewhere."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1.0))) if a.size else 0.0


class Checks:
    def __init__(self):
        self.rows = []
        self.failed = False

    def add(self, what, value, limit, at_least=False):
        ok = bool(value >= limit) if at_least else bool(value <= limit)
        self.failed |= not ok
        self.rows.append((what, value, limit, ok))
        print(f"  {'ok ' if ok else 'BAD'} {what}: {value:.3e} ({'at least' if at_least else 'limit'} {limit:.0e})",
              flush=True)


CHECKS = Checks()

# ----------------------------------------------------------------------------------------------------
# RealNVP (PyTorch), written from the golden README


def mlp(dim, hidden, slope, tanh):
    layers = [nn.Linear(dim, hidden), nn.LeakyReLU(slope), nn.Linear(hidden, hidden), nn.LeakyReLU(slope),
              nn.Linear(hidden, dim)]
    if tanh:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class RealNVP(nn.Module):
    """s.i / t.i Sequentials (indices 0, 2, 4), a `mask` buffer; optional MMPose `loc`/`cov` buffers."""

    def __init__(self, dim, hidden, masks, slope=0.01, mmpose_buffers=False):
        super().__init__()
        self.dim, self.hidden, self.slope = dim, hidden, slope
        if mmpose_buffers:  # MMPose's RealNVP registers loc, cov, mask (in that order) before s and t
            self.register_buffer('loc', torch.zeros(dim))
            self.register_buffer('cov', torch.eye(dim))
        self.register_buffer('mask', torch.tensor(masks, dtype=torch.float32))
        self.s = nn.ModuleList([mlp(dim, hidden, slope, True) for _ in masks])
        self.t = nn.ModuleList([mlp(dim, hidden, slope, False) for _ in masks])

    def inverse(self, x):  # data -> latent, last coupling first
        z = x
        logdet = x.new_zeros(x.shape[0])
        for i in reversed(range(len(self.t))):
            m = self.mask[i]
            z_ = m * z
            s = self.s[i](z_) * (1 - m)
            t = self.t[i](z_) * (1 - m)
            z = (1 - m) * (z - t) * torch.exp(-s) + z_
            logdet = logdet - s.sum(dim=1)
        return z, logdet

    def forward_map(self, z):  # latent -> data, first coupling first
        x = z
        for i in range(len(self.t)):
            m = self.mask[i]
            x_ = x * m
            s = self.s[i](x_) * (1 - m)
            t = self.t[i](x_) * (1 - m)
            x = x_ + (1 - m) * (x * torch.exp(s) + t)
        return x

    def log_prob(self, x):
        z, logdet = self.inverse(x)
        return -0.5 * (z * z).sum(dim=1) - 0.5 * self.dim * LOG2PI + logdet

    def param_items(self):
        """Parameters in the flow files' order: s.0.*, t.0.*, s.1.*, t.1.*, ..."""
        out = []
        for i in range(len(self.t)):
            for net in ('s', 't'):
                for j in (0, 2, 4):
                    lin = getattr(self, net)[i][j]
                    out.append((f'{net}.{i}.{j}.weight', lin.weight))
                    out.append((f'{net}.{i}.{j}.bias', lin.bias))
        return out


def random_flow(gen, dim, hidden, masks, slope=0.01, scale=1.0, mmpose_buffers=False, last_scale=1.0):
    """Float32 flow, weights U(±a·sqrt(6/(fan_in+fan_out))), biases U(±0.1·a), a = scale for the
    first two Linears of every net and scale·last_scale for the last one (s.i.4, t.i.4)."""
    f = RealNVP(dim, hidden, masks, slope, mmpose_buffers)
    with torch.no_grad():
        for name, p in f.param_items():
            a = scale * (last_scale if '.4.' in name else 1.0)
            if name.endswith('weight'):
                b = a * math.sqrt(6.0 / (p.shape[0] + p.shape[1]))
            else:
                b = 0.1 * a
            p.copy_((torch.rand(p.shape, generator=gen, dtype=torch.float32) * 2 - 1) * b)
    return f


def flow_from_json(fj):
    f = RealNVP(fj['dim'], fj['hidden'], fj['masks'], fj['leaky_slope']).double()
    with torch.no_grad():
        for name, p in f.param_items():
            p.copy_(torch.from_numpy(unarr(fj['params'][name])))
    return f


def flow_json(f32):
    return {'dim': f32.dim, 'hidden': f32.hidden, 'masks': f32.mask.to(torch.int64).tolist(),
            'leaky_slope': f32.slope, 'params': {n: arr(p) for n, p in f32.param_items()}}


# ----------------------------------------------------------------------------------------------------
# NumPy recomputation of the flow (independent code path: explicit matrix products, own leaky ReLU)


class NpFlow:
    def __init__(self, fj):
        self.dim, self.slope = fj['dim'], fj['leaky_slope']
        self.masks = np.asarray(fj['masks'], dtype=np.float64)
        self.P = {k: unarr(v).copy() for k, v in fj['params'].items()}

    def net(self, kind, i, u):
        P = self.P
        h = u @ P[f'{kind}.{i}.0.weight'].T + P[f'{kind}.{i}.0.bias']
        h = np.where(h > 0, h, self.slope * h)
        h = h @ P[f'{kind}.{i}.2.weight'].T + P[f'{kind}.{i}.2.bias']
        h = np.where(h > 0, h, self.slope * h)
        h = h @ P[f'{kind}.{i}.4.weight'].T + P[f'{kind}.{i}.4.bias']
        return np.tanh(h) if kind == 's' else h

    def inverse(self, x):
        z = np.array(x, dtype=np.float64)
        ld = np.zeros(z.shape[0])
        for i in range(len(self.masks) - 1, -1, -1):
            m = self.masks[i]
            keep = z * m
            s = self.net('s', i, keep) * (1 - m)
            t = self.net('t', i, keep) * (1 - m)
            z = keep + (1 - m) * (z - t) * np.exp(-s)
            ld -= s.sum(axis=1)
        return z, ld

    def forward(self, z):
        x = np.array(z, dtype=np.float64)
        for i in range(len(self.masks)):
            m = self.masks[i]
            keep = x * m
            s = self.net('s', i, keep) * (1 - m)
            t = self.net('t', i, keep) * (1 - m)
            x = keep + (1 - m) * (x * np.exp(s) + t)
        return x

    def log_prob(self, x):
        z, ld = self.inverse(x)
        return -0.5 * np.sum(z ** 2, axis=1) - 0.5 * self.dim * LOG2PI + ld


def fd_check(fun, base, grad, n, rng, h=2e-5):
    """Central differences with one Richardson step (h, h/2) on n random entries of `base` (modified in
    place and restored); returns (analytic, numeric) lists for the sampled entries.
    The functions have kinks (LeakyReLU, |.|): when the estimates at h and h/10 disagree, a kink lies
    within h of the point, and the step is shrunk until two consecutive estimates agree."""
    flat = base.reshape(-1)
    idx = rng.choice(flat.size, size=min(n, flat.size), replace=False)
    num, ana = [], []

    def cd(i, step):
        v = flat[i]
        flat[i] = v + step
        fp = fun()
        flat[i] = v - step
        fm = fun()
        flat[i] = v
        return (fp - fm) / (2 * step)

    def rich(i, step):
        return (4 * cd(i, step / 2) - cd(i, step)) / 3

    for i in idx:
        prev = rich(i, h)
        for k in range(1, 4):
            cur = rich(i, h / 10 ** k)
            if abs(cur - prev) <= 1e-6 * max(abs(cur), 1.0):
                break
            prev = cur
        num.append(prev)
        ana.append(grad.reshape(-1)[i])
    return ana, num


def fd_rel(pairs):
    """||analytic - numeric|| / ||numeric|| over the concatenation of fd_check results."""
    return rel(sum((a for a, _ in pairs), []), sum((n for _, n in pairs), []))


# ----------------------------------------------------------------------------------------------------
# Flow cases


def flow_case(f64, x, fin):
    x = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    for p in f64.parameters():
        p.grad = None
    z, ld = f64.inverse(x)
    lp = -0.5 * (z * z).sum(dim=1) - 0.5 * f64.dim * LOG2PI + ld
    lp.sum().backward()
    with torch.no_grad():
        fo = f64.forward_map(torch.tensor(fin, dtype=torch.float64))
    return {'x': arr(x), 'log_prob': arr(lp), 'z': arr(z), 'log_det': arr(ld), 'grad_x': arr(x.grad),
            'grad_params': {n: arr(p.grad) for n, p in f64.param_items()},
            'forward_in': arr(np.asarray(fin, dtype=np.float64)), 'forward_out': arr(fo)}


def verify_flow_file(label, d, rng, fd_n=40, limit=1e-12):
    nf = NpFlow(d['flow'])
    for ci, c in enumerate(d['cases']):
        x = unarr(c['x'])
        z, ld = nf.inverse(x)
        lp = nf.log_prob(x)
        CHECKS.add(f'{label} case {ci}: log_prob (numpy)', maxrel(lp, unarr(c['log_prob'])), limit)
        CHECKS.add(f'{label} case {ci}: z, log_det (numpy)',
                   max(maxrel(z, unarr(c['z'])), maxrel(ld, unarr(c['log_det']))), limit)
        fo = nf.forward(unarr(c['forward_in']))
        CHECKS.add(f'{label} case {ci}: forward_out (numpy)', maxrel(fo, unarr(c['forward_out'])), limit)
        CHECKS.add(f'{label} case {ci}: forward(inverse(x)) == x', maxrel(nf.forward(z), x), 1e-10)
        xs = x.copy()
        e1 = fd_rel([fd_check(lambda: nf.log_prob(xs).sum(), xs, unarr(c['grad_x']), fd_n, rng)])
        e2 = fd_rel([fd_check(lambda: nf.log_prob(x).sum(), nf.P[name], unarr(c['grad_params'][name]), 6, rng)
                     for name in nf.P])
        CHECKS.add(f'{label} case {ci}: grad_x vs finite differences', e1, 1e-6)
        CHECKS.add(f'{label} case {ci}: grad_params vs finite differences (6 entries of each tensor)', e2, 1e-6)


def make_flow_file(path, seed, dim, hidden, masks, slope, scale, last_scale, cases, xscale):
    gen = torch.Generator().manual_seed(seed)
    f32 = random_flow(gen, dim, hidden, masks, slope, scale, last_scale=last_scale)
    f64 = flow_from_json(flow_json(f32))
    f64.slope = slope
    out_cases = []
    for n, xs in zip(cases, xscale):
        x = (torch.randn(n, dim, generator=gen, dtype=torch.float32) * xs).numpy()
        fin = (torch.randn(n, dim, generator=gen, dtype=torch.float32) * xs).numpy()
        out_cases.append(flow_case(f64, x, fin))
    d = {'flow': flow_json(f32), 'cases': out_cases}
    size = dump(path, d)
    return d, size


# ----------------------------------------------------------------------------------------------------
# RLE loss (PyTorch, float64), written from the golden README


def rle_loss_torch(flow, variant, pred, sl, target, w):
    B, K, D = pred.shape
    sigma = torch.sigmoid(sl)
    if variant == 'direct':
        z, ld = flow.inverse(target.reshape(-1, D))
        z = z.reshape(B, K, D)
        logn = -torch.log(sigma) - 0.5 * LOG2PI - (z - pred) ** 2 / (2 * sigma ** 2)
        nll = -(logn.sum(dim=-1) + ld.reshape(B, K))
        return (nll * w[..., 0]).sum() / B
    mm = variant != 'official'
    bar = (pred - target) / ((sigma + 1e-9) if mm else sigma)
    log_phi = flow.log_prob(bar.reshape(-1, D)).reshape(B, K, 1)
    nf = torch.log(sigma) - log_phi
    if variant == 'official':
        q = torch.log(sigma / AMP) + torch.abs(target - pred) / (math.sqrt(2) * sigma + 1e-9)
        return (nf * w[..., :1] + q * w).sum() / B
    if variant == 'mmpose_laplace':
        q = torch.log(sigma * 2) + torch.abs(bar)
    elif variant == 'mmpose_gaussian':
        q = torch.log(sigma * math.sqrt(2 * math.pi)) + 0.5 * bar ** 2
    elif variant == 'no_residual':
        q = 0
    else:
        raise ValueError(variant)
    return ((nf + q) * w).sum() / B


def rle_case(f64, variant, pred, sl, target, w):
    t = lambda a, g=False: torch.tensor(a, dtype=torch.float64, requires_grad=g)
    p, s = t(pred, True), t(sl, True)
    for q in f64.parameters():
        q.grad = None
    loss = rle_loss_torch(f64, variant, p, s, t(target), t(w))
    loss.backward()
    return {'variant': variant, 'pred': arr(pred), 'sigma_logit': arr(sl), 'target': arr(target),
            'weight': arr(w), 'loss': float(loss), 'grad_pred': arr(p.grad), 'grad_sigma_logit': arr(s.grad),
            'grad_params': {n: arr(q.grad) for n, q in f64.param_items()}}


def rle_loss_np(nf, variant, pred, sl, target, w):
    """Per-joint loops: a different code path from the vectorised PyTorch one."""
    B, K, D = pred.shape
    total = 0.0
    for b in range(B):
        for k in range(K):
            sig = 1.0 / (1.0 + np.exp(-sl[b, k]))
            e = pred[b, k] - target[b, k]
            if variant == 'direct':
                z, ld = nf.inverse(target[b, k][None, :])
                nll = 0.0
                for d in range(D):
                    nll += math.log(sig[d]) + 0.5 * LOG2PI + (z[0, d] - pred[b, k, d]) ** 2 / (2 * sig[d] ** 2)
                total += (nll - ld[0]) * w[b, k, 0]
                continue
            den = sig + 1e-9 if variant != 'official' else sig
            bar = e / den
            lphi = nf.log_prob(bar[None, :])[0]
            for d in range(D):
                nfl = math.log(sig[d]) - lphi
                if variant == 'official':
                    q = math.log(sig[d]) - math.log(AMP) + abs(e[d]) / (math.sqrt(2) * sig[d] + 1e-9)
                    total += nfl * w[b, k, 0] + q * w[b, k, d]
                else:
                    if variant == 'mmpose_laplace':
                        q = math.log(2.0) + math.log(sig[d]) + abs(bar[d])
                    elif variant == 'mmpose_gaussian':
                        q = math.log(sig[d]) + 0.5 * LOG2PI + 0.5 * bar[d] ** 2
                    else:
                        q = 0.0
                    total += (nfl + q) * w[b, k, d]
    return total / B


def weight_sensitivity(label, d):
    """The per-coordinate weights must matter: the loss with the other reading of the weights (official:
    w instead of w[..., :1] on the flow term; mmpose_*/no_residual: w[..., :1] instead of w; direct:
    w[..., 1] instead of w[..., 0]) has to differ clearly from the stored one."""
    f64 = flow_from_json(d['flow'])
    for c in d['cases']:
        v = c['variant']
        pred, sl, tgt, w = (torch.from_numpy(unarr(c[k])) for k in ('pred', 'sigma_logit', 'target', 'weight'))
        with torch.no_grad():
            if v == 'official':
                B, K, D = pred.shape
                sigma = torch.sigmoid(sl)
                lphi = f64.log_prob(((pred - tgt) / sigma).reshape(-1, D)).reshape(B, K, 1)
                q = torch.log(sigma / AMP) + torch.abs(tgt - pred) / (math.sqrt(2) * sigma + 1e-9)
                alt = float(((torch.log(sigma) - lphi + q) * w).sum() / B)
            elif v == 'direct':
                alt = float(rle_loss_torch(f64, v, pred, sl, tgt, w[..., [1, 0] + list(range(2, w.shape[2]))]))
            else:
                alt = float(rle_loss_torch(f64, v, pred, sl, tgt, w[..., :1].expand_as(w)))
        CHECKS.add(f'{label} {v}: weights matter: rel. change of loss under the other weight reading',
                   abs(alt - c['loss']) / abs(c['loss']), 1e-3, at_least=True)


def verify_loss_file(label, d, rng, limit=1e-12):
    nf = NpFlow(d['flow'])
    for c in d['cases']:
        v = c['variant']
        pred, sl, tgt, w = (unarr(c[k]).copy() for k in ('pred', 'sigma_logit', 'target', 'weight'))
        L = rle_loss_np(nf, v, pred, sl, tgt, w)
        CHECKS.add(f'{label} {v}: loss (numpy loops)', abs(L - c['loss']) / max(abs(c['loss']), 1.0), limit)
        f = lambda: rle_loss_np(nf, v, pred, sl, tgt, w)
        e1 = fd_rel([fd_check(f, pred, unarr(c['grad_pred']), 12, rng)])
        e2 = fd_rel([fd_check(f, sl, unarr(c['grad_sigma_logit']), 12, rng)])
        e3 = fd_rel([fd_check(f, nf.P[name], unarr(c['grad_params'][name]), 2, rng) for name in nf.P])
        CHECKS.add(f'{label} {v}: grad_pred, grad_sigma_logit (12 entries each), grad_params (2 of each '
                   f'tensor) vs finite differences (worst)', max(e1, e2, e3), 1e-6)


def make_loss_inputs(gen, B, K, D, patterns):
    """pred/target/sigma_logit/weight, float32 values. Errors scaled by sigma (|bar| mostly < 4),
    both signs, |pred - target| >= 2e-4; a few logits near -6 and 4; weights differ across D."""
    r = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float32)
    u = lambda *s: torch.rand(*s, generator=gen, dtype=torch.float32)
    sl = r(B, K, D) * 1.3
    n = B * K * D
    flat = sl.view(-1)
    pick = torch.randperm(n, generator=gen)
    flat[pick[:3]] = -6 + 0.6 * u(3)   # in [-6, -5.4]
    flat[pick[3:6]] = 3.4 + 0.6 * u(3)  # in [3.4, 4]
    sigma = torch.sigmoid(sl.double())
    err = (r(B, K, D).double() * 1.2 * sigma)
    tiny = err.abs() < 2e-4
    err[tiny] = torch.where(err[tiny] >= 0, 2e-4, -2e-4).double() * (1 + u(int(tiny.sum())).double())
    target = (u(B, K, D) - 0.5) * 0.9
    pred = (target.double() + err).float()
    # re-check after float32 rounding: no ties, no zeros
    e = (pred - target).abs()
    assert float(e.min()) > 1e-4, float(e.min())
    assert int((pred > target).sum()) > 0 and int((pred < target).sum()) > 0
    w = torch.zeros(B, K, D)
    order = torch.randperm(B * K, generator=gen)
    for j, o in enumerate(order.tolist()):
        w.view(B * K, D)[o] = torch.tensor(patterns[j % len(patterns)], dtype=torch.float32)
    return pred.numpy(), sl.numpy(), target.numpy(), w.numpy()


def make_loss_file(path, seed, dim, hidden, masks, B, K, patterns):
    gen = torch.Generator().manual_seed(seed)
    f32 = random_flow(gen, dim, hidden, masks)
    f64 = flow_from_json(flow_json(f32))
    cases = []
    for v in VARIANTS:
        pred, sl, tgt, w = make_loss_inputs(gen, B, K, dim, patterns)
        if v == 'direct':
            # design (a) compares pred with the flow's image of the target: put pred near it (error
            # scaled by sigma as for the other variants) so that the loss is not dominated by outliers
            with torch.no_grad():
                zt = f64.inverse(torch.tensor(tgt, dtype=torch.float64).reshape(-1, dim))[0].reshape(B, K, dim)
            pred = (zt + torch.tensor(pred.astype(np.float64) - tgt.astype(np.float64))).float().numpy()
            assert np.abs(pred - tgt).min() > 1e-4
        cases.append(rle_case(f64, v, pred, sl, tgt, w))
    d = {'flow': flow_json(f32), 'cases': cases}
    return d, dump(path, d)


# ----------------------------------------------------------------------------------------------------
# RegressFlow network (PyTorch, float32): torchvision-named ResNet trunk + official / MMPose heads


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-5)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = bn(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = bn(planes)
        self.downsample = None
        if stride != 1 or inp != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), bn(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        idt = x if self.downsample is None else self.downsample(x)
        return F.relu(y + idt)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inp, planes, stride):
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(inp, planes, 1, 1, bias=False)
        self.bn1 = bn(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)  # stride on the 3x3
        self.bn2 = bn(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, 1, bias=False)
        self.bn3 = bn(out)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False), bn(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        idt = x if self.downsample is None else self.downsample(x)
        return F.relu(y + idt)


class Trunk(nn.Module):
    def __init__(self, block, stem, widths, depths):
        super().__init__()
        B = BasicBlock if block == 'basic' else Bottleneck
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = bn(stem)
        inp = stem
        for L, (w, n) in enumerate(zip(widths, depths)):
            blocks = []
            for b in range(n):
                blocks.append(B(inp, w, 2 if (b == 0 and L > 0) else 1))
                inp = w * B.expansion
            setattr(self, f'layer{L + 1}', nn.Sequential(*blocks))
        self.nstages = len(widths)
        self.out_channels = inp

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for L in range(self.nstages):
            x = getattr(self, f'layer{L + 1}')(x)
        return x


class NormLinear(nn.Module):
    """The official code's `Linear` wrapper: y = x W^T / ||x|| + b (norm=True) or plain."""

    def __init__(self, cin, cout, norm):
        super().__init__()
        self.norm = norm
        self.linear = nn.Linear(cin, cout)

    def forward(self, x):
        y = x.matmul(self.linear.weight.t())
        if self.norm:
            y = y / torch.norm(x, dim=1, keepdim=True)
        return y + self.linear.bias


class OfficialNet(nn.Module):
    def __init__(self, block, stem, widths, depths, K, flow):
        super().__init__()
        self.K = K
        self.preact = Trunk(block, stem, widths, depths)
        C = self.preact.out_channels
        self.fc_coord = NormLinear(C, K * 2, True)
        self.fc_sigma = NormLinear(C, K * 2, False)
        self.flow = flow

    def forward(self, x):
        B = x.shape[0]
        feat = self.preact(x).mean(dim=(2, 3))
        pred = self.fc_coord(feat).reshape(B, self.K, 2)
        sigma = self.fc_sigma(feat).reshape(B, self.K, 2).sigmoid()
        return feat, pred, sigma, 1 - sigma.mean(dim=2)


class MMPoseHead(nn.Module):
    def __init__(self, C, K, flow):
        super().__init__()
        self.fc = nn.Linear(C, K * 4)
        self.loss_module = nn.Module()
        self.loss_module.flow_model = flow


class MMPoseNet(nn.Module):
    def __init__(self, block, stem, widths, depths, K, flow):
        super().__init__()
        self.K = K
        self.backbone = Trunk(block, stem, widths, depths)
        self.head = MMPoseHead(self.backbone.out_channels, K, flow)

    def forward(self, x):
        B = x.shape[0]
        feat = self.backbone(x).mean(dim=(2, 3))
        out = self.head.fc(feat).reshape(B, self.K, 4)
        sigma = out[..., 2:4].sigmoid()
        return feat, out[..., :2], sigma, 1 - sigma.mean(dim=2)


def randomize_net(net, gen, x, layout):
    """Random weights; BN running stats from one train-mode pass on x, then perturbed (var > 0)."""
    r = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float32)
    u = lambda *s: torch.rand(*s, generator=gen, dtype=torch.float32)
    trunk = net.preact if layout == 'official' else net.backbone
    with torch.no_grad():
        for m in trunk.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(r(*m.weight.shape) * math.sqrt(2.0 / fan_in))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.6 + 0.8 * u(m.num_features))
                m.bias.copy_(0.2 * r(m.num_features))
                m.momentum = 1.0
        trunk.train()
        trunk(x)
        for m in trunk.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                sd = m.running_var.sqrt()
                m.running_mean.add_(0.1 * sd * r(c))
                m.running_var.mul_(0.7 + 0.8 * u(c))
                m.num_batches_tracked.fill_(int(torch.randint(1, 100000, (1,), generator=gen)))
                m.momentum = 0.1
        trunk.eval()
        feat = trunk(x).mean(dim=(2, 3))
        C = feat.shape[1]
        xs = float(feat.pow(2).mean().sqrt())
        if layout == 'official':
            net.fc_coord.linear.weight.copy_(r(2 * net.K, C) * 0.5)
            net.fc_coord.linear.bias.copy_(0.1 * r(2 * net.K))
            net.fc_sigma.linear.weight.copy_(r(2 * net.K, C) * 1.5 / (math.sqrt(C) * xs))
            net.fc_sigma.linear.bias.copy_(0.3 * r(2 * net.K))
        else:
            W = r(4 * net.K, C) / (math.sqrt(C) * xs)
            W.view(net.K, 4, C)[:, :2] *= 0.3
            W.view(net.K, 4, C)[:, 2:] *= 1.5
            b = 0.1 * r(4 * net.K)
            b.view(net.K, 4)[:, :2] += 0.5
            net.head.fc.weight.copy_(W)
            net.head.fc.bias.copy_(b)
    net.eval()


# ---- safetensors (written and read by hand: no python3-safetensors in Debian bookworm)

def write_safetensors(path, items, lib_order=False):
    """items: [(name, tensor)] in state_dict order. lib_order=True lays the file out the way the
    `safetensors` library does (metadata first, tensors sorted by dtype alignment then name)."""
    if lib_order:
        items = sorted(items, key=lambda kv: (0 if kv[1].dtype == torch.int64 else 1, kv[0]))
    header, blobs, off = {}, [], 0
    if lib_order:
        header['__metadata__'] = {'format': 'pt'}
    for name, t in items:
        if t.dtype == torch.int64:
            dt, b = 'I64', t.detach().numpy().astype('<i8').tobytes()
        elif t.dtype == torch.float32:
            dt, b = 'F32', t.detach().numpy().astype('<f4').tobytes()
        else:
            raise TypeError(f'{name}: {t.dtype}')
        header[name] = {'dtype': dt, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if not lib_order:
        header['__metadata__'] = {'format': 'pt'}
    h = json.dumps(header, separators=(',', ':')).encode()
    h += b' ' * ((-len(h)) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    return os.path.getsize(path)


def read_safetensors(path):
    """-> ordered [(name, np.ndarray)] in file (data offset) order; checks the buffer has no holes."""
    buf = open(path, 'rb').read()
    n = struct.unpack('<Q', buf[:8])[0]
    hdr = json.loads(buf[8:8 + n].decode())
    hdr.pop('__metadata__', None)
    data = buf[8 + n:]
    ents = sorted(hdr.items(), key=lambda kv: kv[1]['data_offsets'][0])
    end = 0
    out = []
    for name, e in ents:
        a, b = e['data_offsets']
        assert a == end, f'{name}: hole or overlap at {a} (expected {end})'
        dt = {'F32': '<f4', 'I64': '<i8'}[e['dtype']]
        out.append((name, np.frombuffer(data[a:b], dtype=dt).reshape(e['shape']).copy()))
        end = b
    assert end == len(data), 'trailing bytes'
    return out, list(hdr.keys())


def infer_trunk(sd, tp):
    block = 'bottleneck' if f'{tp}layer1.0.conv3.weight' in sd else 'basic'
    widths, depths = [], []
    L = 1
    while f'{tp}layer{L}.0.conv1.weight' in sd:
        d = 0
        while f'{tp}layer{L}.{d}.conv1.weight' in sd:
            d += 1
        widths.append(sd[f'{tp}layer{L}.0.conv1.weight'].shape[0])
        depths.append(d)
        L += 1
    return block, sd[f'{tp}conv1.weight'].shape[0], widths, depths


def net_from_state_dict(sd):
    """Builds the PyTorch net from shapes and loads the state dict (strict)."""
    layout = 'official' if any(k.startswith('preact.') for k in sd) else 'mmpose'
    tp = 'preact.' if layout == 'official' else 'backbone.'
    fp = 'flow.' if layout == 'official' else 'head.loss_module.flow_model.'
    block, stem, widths, depths = infer_trunk(sd, tp)
    masks = sd[fp + 'mask'].astype(np.int64).tolist()
    w0 = sd[fp + 's.0.0.weight']
    flow = RealNVP(w0.shape[1], w0.shape[0], masks, mmpose_buffers=(layout == 'mmpose'))
    if layout == 'official':
        K = sd['fc_coord.linear.weight'].shape[0] // 2
        net = OfficialNet(block, stem, widths, depths, K, flow)
    else:
        K = sd['head.fc.weight'].shape[0] // 4
        net = MMPoseNet(block, stem, widths, depths, K, flow)
    net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()}, strict=True)
    net.eval()
    return net, layout, block, K


# ---- NumPy float64 recomputation of the network (im2col convolution, explicit BN)

def np_conv(x, w, stride, pad):
    B, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (W + 2 * pad - kw) // stride + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))
    win = win[:, :, ::stride, ::stride][:, :, :Ho, :Wo]  # B C Ho Wo kh kw
    return np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)


def np_bn(x, sd, p):
    g, b, m, v = (sd[f'{p}.{k}'].astype(np.float64) for k in ('weight', 'bias', 'running_mean', 'running_var'))
    return (x - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-5) * g[:, None, None] + b[:, None, None]


def np_maxpool(x):
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    H, W = x.shape[2:]
    Ho, Wo = (H + 2 - 3) // 2 + 1, (W + 2 - 3) // 2 + 1
    win = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2][:, :, :Ho, :Wo]
    return win.max(axis=(4, 5))


def np_network(sd, x):
    sd = {k: v.astype(np.float64) for k, v in sd.items()}
    layout = 'official' if any(k.startswith('preact.') for k in sd) else 'mmpose'
    tp = 'preact.' if layout == 'official' else 'backbone.'
    block, stem, widths, depths = infer_trunk(sd, tp)
    relu = lambda a: np.maximum(a, 0)
    h = np_maxpool(relu(np_bn(np_conv(x, sd[tp + 'conv1.weight'], 2, 3), sd, tp + 'bn1')))
    for L in range(len(widths)):
        for b in range(depths[L]):
            p = f'{tp}layer{L + 1}.{b}'
            stride = 2 if (b == 0 and L > 0) else 1
            if block == 'basic':
                y = relu(np_bn(np_conv(h, sd[p + '.conv1.weight'], stride, 1), sd, p + '.bn1'))
                y = np_bn(np_conv(y, sd[p + '.conv2.weight'], 1, 1), sd, p + '.bn2')
            else:
                y = relu(np_bn(np_conv(h, sd[p + '.conv1.weight'], 1, 0), sd, p + '.bn1'))
                y = relu(np_bn(np_conv(y, sd[p + '.conv2.weight'], stride, 1), sd, p + '.bn2'))
                y = np_bn(np_conv(y, sd[p + '.conv3.weight'], 1, 0), sd, p + '.bn3')
            if p + '.downsample.0.weight' in sd:
                idt = np_bn(np_conv(h, sd[p + '.downsample.0.weight'], stride, 0), sd, p + '.downsample.1')
            else:
                idt = h
            h = relu(y + idt)
    feat = h.mean(axis=(2, 3))
    B = x.shape[0]
    if layout == 'official':
        K = sd['fc_coord.linear.weight'].shape[0] // 2
        pred = (feat @ sd['fc_coord.linear.weight'].T) / np.linalg.norm(feat, axis=1, keepdims=True) \
            + sd['fc_coord.linear.bias']
        logit = feat @ sd['fc_sigma.linear.weight'].T + sd['fc_sigma.linear.bias']
        pred, logit = pred.reshape(B, K, 2), logit.reshape(B, K, 2)
    else:
        K = sd['head.fc.weight'].shape[0] // 4
        o = (feat @ sd['head.fc.weight'].T + sd['head.fc.bias']).reshape(B, K, 4)
        pred, logit = o[..., :2], o[..., 2:]
    sigma = 1 / (1 + np.exp(-logit))
    return feat, pred, sigma, 1 - sigma.mean(axis=2)


def run_net(net, x):
    with torch.no_grad():
        return [t.numpy() for t in net(torch.from_numpy(x))]


def make_network(stem_path, seed, layout, block, stem, widths, depths, K, flow_cfg, in_shape, lib_order):
    gen = torch.Generator().manual_seed(seed)
    # A normalised image, kept on a 1/64 grid so the JSON stays short (values are exact float32).
    x = torch.round(torch.randn(*in_shape, generator=gen, dtype=torch.float32) * 64) / 64
    fdim, fhid, fmasks = flow_cfg
    flow = random_flow(gen, fdim, fhid, fmasks, mmpose_buffers=(layout == 'mmpose'))
    Net = OfficialNet if layout == 'official' else MMPoseNet
    net = Net(block, stem, widths, depths, K, flow)
    randomize_net(net, gen, x, layout)
    sd = net.state_dict()
    items = [(k, v.detach().clone()) for k, v in sd.items()]
    for k, v in items:
        assert v.dtype in (torch.float32, torch.int64), (k, v.dtype)
    st_size = write_safetensors(stem_path + '.safetensors', items, lib_order=lib_order)
    feat, pred, sigma, scores = run_net(net, x.numpy())
    d = {'layout': layout, 'block': block, 'num_joints': K,
         'input_layout': 'NCHW float32 (PyTorch order); already normalised',
         'input': arr(x), 'pooled_features': arr(feat), 'pred_jts': arr(pred), 'sigma': arr(sigma),
         'scores': arr(scores), 'state_dict_keys': list(sd.keys())}
    js_size = dump(stem_path + '.json', d)
    return d, js_size, st_size


def verify_network(label, json_path, st_path, limit=1e-5):
    d = json.load(open(json_path))
    ents, hdr_keys = read_safetensors(st_path)
    sd = dict(ents)
    CHECKS.add(f'{label}: state_dict_keys == safetensors keys (as a set)',
               0.0 if set(d['state_dict_keys']) == set(sd) else 1.0, 0)
    x = unarr(d['input'], np.float32)
    net, layout, block, K = net_from_state_dict(sd)
    assert layout == d['layout'] and block == d['block'] and K == d['num_joints'], (layout, block, K)
    assert list(net.state_dict().keys()) == d['state_dict_keys'], 'state_dict order'
    got = run_net(net, x)
    ref = [unarr(d[k]) for k in ('pooled_features', 'pred_jts', 'sigma', 'scores')]
    CHECKS.add(f'{label}: PyTorch rebuilt from the .safetensors vs JSON outputs (max rel err)',
               max(rel(g, r) for g, r in zip(got, ref)), limit)
    alt = np_network(sd, x.astype(np.float64))
    CHECKS.add(f'{label}: NumPy float64 recomputation vs JSON outputs (max rel err)',
               max(rel(g, r) for g, r in zip(alt, ref)), limit)
    print(f'    pooled |f|={np.linalg.norm(ref[0]):.3g}, pred range [{ref[1].min():.3f},{ref[1].max():.3f}], '
          f'sigma range [{ref[2].min():.3f},{ref[2].max():.3f}], features>0: {(ref[0] > 0).mean():.2f}')


# ----------------------------------------------------------------------------------------------------
# Checks against the public golden files


def check_golden(g, rng):
    print('Golden self-checks (this script vs the public files):', flush=True)
    for name in ('realnvp2d.json', 'realnvp3d.json'):
        d = json.load(open(os.path.join(g, name)))
        f64 = flow_from_json(d['flow'])
        for ci, c in enumerate(d['cases']):
            out = flow_case(f64, unarr(c['x']), unarr(c['forward_in']))
            CHECKS.add(f'{name} case {ci}: log_prob', maxrel(unarr(out['log_prob']), unarr(c['log_prob'])), 1e-12)
            worst = max(maxrel(unarr(out[k]), unarr(c[k])) for k in ('z', 'log_det', 'grad_x', 'forward_out'))
            worst = max([worst] + [rel(unarr(out['grad_params'][n]), unarr(c['grad_params'][n]))
                                   for n in c['grad_params']])
            CHECKS.add(f'{name} case {ci}: z, log_det, grad_x, forward_out, grad_params', worst, 1e-12)
    d = json.load(open(os.path.join(g, 'rle2d.json')))
    f64 = flow_from_json(d['flow'])
    for c in d['cases']:
        out = rle_case(f64, c['variant'], *(unarr(c[k]) for k in ('pred', 'sigma_logit', 'target', 'weight')))
        CHECKS.add(f"rle2d.json {c['variant']}: loss", abs(out['loss'] - c['loss']) / abs(c['loss']), 1e-12)
        worst = max(rel(unarr(out[k]), unarr(c[k])) for k in ('grad_pred', 'grad_sigma_logit'))
        worst = max([worst] + [rel(unarr(out['grad_params'][n]), unarr(c['grad_params'][n]))
                               for n in c['grad_params']])
        CHECKS.add(f"rle2d.json {c['variant']}: grad_pred, grad_sigma_logit, grad_params", worst, 1e-12)
    # Network: rebuild from the golden .safetensors, run on its input, compare outputs.
    stem = os.path.join(g, 'regressflow_official_basic')
    verify_network('regressflow_official_basic (golden)', stem + '.json', stem + '.safetensors')
    # Our writer reproduces the golden .safetensors byte for byte when given its tensors in its order.
    ents, _ = read_safetensors(stem + '.safetensors')
    tmp = os.path.join('/tmp', f'golden_rewrite_{os.getpid()}.safetensors')
    write_safetensors(tmp, [(k, torch.from_numpy(v)) for k, v in ents])
    same = open(tmp, 'rb').read() == open(stem + '.safetensors', 'rb').read()
    os.unlink(tmp)
    CHECKS.add('regressflow_official_basic.safetensors rewritten by write_safetensors: bytes differ',
               0.0 if same else 1.0, 0)


# ----------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--golden', default='/work/shared/golden')
    ap.add_argument('--out', default='test/fixtures/extra')
    ap.add_argument('--skip-golden', action='store_true')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(12345)
    print(f'torch {torch.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}')
    if not a.skip_golden:
        check_golden(a.golden, rng)
    sizes = {}
    P = lambda n: os.path.join(a.out, n)

    print('Flow files:', flush=True)
    specs = [
        # name, seed, dim, hidden, masks, slope, param scale, last-layer factor, case sizes, x scales
        ('realnvp_d2_h32_c4.json', 101, 2, 32, [[1, 0], [0, 1], [1, 0], [0, 1]], 0.01, 1.0, 1.0, [12], [1.5]),
        ('realnvp_d3_h24_c3_masks.json', 102, 3, 24, [[1, 0, 0], [1, 1, 0], [0, 1, 0]], 0.01, 1.0, 1.0, [9, 4],
         [1.0, 3.0]),
        ('realnvp_d4_h16_c2.json', 103, 4, 16, [[1, 0, 1, 0], [0, 1, 0, 1]], 0.01, 1.0, 1.0, [8, 3], [1.0, 2.5]),
        ('realnvp_d2_h64_c6_slope02.json', 104, 2, 64, [[0, 1], [1, 0]] * 3, 0.2, 2.5, 0.25, [6], [1.0]),
    ]
    for name, seed, dim, hid, masks, slope, scale, last, ns, xs in specs:
        d, size = make_flow_file(P(name), seed, dim, hid, masks, slope, scale, last, ns, xs)
        sizes[name] = size
        verify_flow_file(name, json.load(open(P(name))), rng)
        c0 = d['cases'][0]
        print(f'    log_prob [{unarr(c0["log_prob"]).min():.3f}, {unarr(c0["log_prob"]).max():.3f}], '
              f'log_det [{unarr(c0["log_det"]).min():.3f}, {unarr(c0["log_det"]).max():.3f}]')
        if slope != 0.01:
            # the nonlinearity matters: the same parameters with the default slope give other numbers
            fj = dict(d['flow'], leaky_slope=0.01)
            lp01 = NpFlow(fj).log_prob(unarr(c0['x']))
            print(f'    same params with slope 0.01: rel. change of log_prob {rel(lp01, unarr(c0["log_prob"])):.3f}')

    print('Loss files:', flush=True)
    pat2 = [[1, 1], [1, 0.5], [0, 0], [0.5, 1], [0, 1], [1, 0], [1, 1]]
    pat3 = [[1, 1, 1], [1, 0.5, 0.25], [0, 0, 0], [0.5, 1, 1], [0, 1, 1], [1, 1, 1]]
    for name, seed, dim, hid, masks, B, K, pat in [
        ('rle2d_weights.json', 201, 2, 16, [[0, 1], [1, 0], [0, 1]], 3, 7, pat2),
        ('rle3d.json', 202, 3, 16, [[0, 0, 1], [1, 1, 0], [0, 0, 1]], 2, 6, pat3),
    ]:
        d, size = make_loss_file(P(name), seed, dim, hid, masks, B, K, pat)
        sizes[name] = size
        verify_loss_file(name, json.load(open(P(name))), rng)
        weight_sensitivity(name, d)
        for c in d['cases']:
            s = unarr(c['sigma_logit'])
            print(f"    {c['variant']}: loss {c['loss']:.6g}; sigma_logit [{s.min():.2f}, {s.max():.2f}]; "
                  f"min |pred-target| {np.abs(unarr(c['pred']) - unarr(c['target'])).min():.2e}")

    print('Network files:', flush=True)
    nets = [
        ('regressflow_official_bottleneck', 301, 'official', 'bottleneck', 16, [8, 16, 16, 24], [1, 2, 1, 1], 17,
         (2, 32, [[0, 1], [1, 0]] * 2), (2, 3, 64, 48), False),
        ('regressflow_mmpose_basic', 302, 'mmpose', 'basic', 12, [16, 24, 24, 32], [2, 1, 2, 1], 14,
         (2, 64, [[0, 1], [1, 0]] * 3), (2, 3, 96, 64), True),
        ('regressflow_official_k5_odd', 303, 'official', 'basic', 9, [9, 12, 15, 20], [1, 1, 2, 1], 5,
         (2, 16, [[1, 0], [0, 1]]), (1, 3, 67, 45), False),
    ]
    for stem, seed, layout, block, st, widths, depths, K, fcfg, shape, lib in nets:
        _, js, ss = make_network(P(stem), seed, layout, block, st, widths, depths, K, fcfg, shape, lib)
        sizes[stem + '.json'] = js
        sizes[stem + '.safetensors'] = ss
        verify_network(stem, P(stem + '.json'), P(stem + '.safetensors'))

    print('Sizes:')
    for k, v in sizes.items():
        print(f'  {k}: {v} bytes')
    print(f'  total: {sum(sizes.values())} bytes')
    if CHECKS.failed:
        print('SOME CHECKS FAILED')
        return 1
    print(f'all {len(CHECKS.rows)} checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
