"""The empirical-NTK workloads in PyTorch (CPU, float64, `torch.func`): the two recipes of
PyTorch's "Neural Tangent Kernels" tutorial, on the network and parameters ntk uses.

- `jacobian`: Jacobian contraction. `vmap(jacrev(f))` builds the per-point Jacobians J (N × k × P,
  all P parameters), then `einsum` contracts J·Jᵀ (trace mode: Σ_a J_a J_aᵀ, the N × N kernel;
  full mode: the (N·k) × (N·k) kernel). Memory N·k·P doubles.
- `ntk_vps`: NTK-vector products. For each pair (x, x') and each output basis vector e, a `vjp`
  at x followed by a `jvp` at x' gives one row of Θ(x, x'); `vmap` runs it over the pairs. Each vjp
  returns a parameter-sized cotangent, so the tutorial's vmap over all N² pairs at once would need
  N²·k·P doubles (300 GB at N = 256); here one row of pairs is processed at a time
  (`ROWS_PER_BLOCK`), the same computation with N·k·P doubles (1.2 GB at N = 256, k = 1).

PyTorch's tutorial shows no structured (layer-wise) contraction like neural-tangents'
STRUCTURED_DERIVATIVES, so there is none here.

The network is 100 → 512³ → k ReLU in NTK parameterization with β = 0.1, exactly ntk's
(`α̃^(l+1) = W^(l) α^(l)/√n_l + β b^(l)`), with ntk's θ loaded into it (W^(l) row-major
n_{l+1} × n_l, then b^(l)), so the results are compared entry by entry.
"""
import math

import numpy as np
import torch
from torch.func import functional_call, jacrev, jvp, vjp, vmap

torch.set_default_dtype(torch.float64)
BETA = 0.1
ROWS_PER_BLOCK = 1


class NtkMlp(torch.nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.widths = widths
        self.layers = torch.nn.ModuleList(
            torch.nn.Linear(widths[l], widths[l + 1]) for l in range(len(widths) - 1))

    def forward(self, x):
        h = x
        for l, layer in enumerate(self.layers):
            h = torch.nn.functional.linear(h, layer.weight) / math.sqrt(self.widths[l]) + BETA * layer.bias
            if l + 1 < len(self.layers):
                h = torch.relu(h)
        return h


def model_from_theta(theta, widths):
    model = NtkMlp(widths)
    off = 0
    with torch.no_grad():
        for l, layer in enumerate(model.layers):
            n_in, n_out = widths[l], widths[l + 1]
            layer.weight.copy_(torch.from_numpy(theta[off:off + n_in * n_out].reshape(n_out, n_in)))
            off += n_in * n_out
            layer.bias.copy_(torch.from_numpy(theta[off:off + n_out]))
            off += n_out
    assert off == theta.size
    return model


def _functional(model):
    params = {k: v.detach() for k, v in model.named_parameters()}

    def f_single(p, x):
        return functional_call(model, p, (x.unsqueeze(0),)).squeeze(0)

    return params, f_single


def _to_numpy(k, outputs):
    k = k.numpy()
    if outputs > 1:  # (N, M, k, k) → (N·k) × (M·k), row i·k + a, as ntk's full mode
        n, m = k.shape[0], k.shape[1]
        k = k.transpose(0, 2, 1, 3).reshape(n * outputs, m * outputs)
    return k


def empirical(x, outputs, theta, widths, recipe, threads):
    torch.set_num_threads(threads)
    model = model_from_theta(theta, widths)
    params, f_single = _functional(model)
    xt = torch.from_numpy(np.ascontiguousarray(x))

    if recipe == "jacobian":
        def run():
            with torch.no_grad():
                jac = vmap(jacrev(f_single), (None, 0))(params, xt)
                jac = [j.flatten(2) for j in jac.values()]  # N × k × P_layer each
                if outputs == 1:
                    return sum(torch.einsum("Naf,Maf->NM", j, j) for j in jac)
                return sum(torch.einsum("Naf,Mbf->NMab", j, j) for j in jac)
    elif recipe == "ntk_vps":
        def get_ntk(x1, x2):
            def f1(p):
                return f_single(p, x1)

            def f2(p):
                return f_single(p, x2)

            out, vjp_fn = vjp(f1, params)

            def row(vec):
                (vjps,) = vjp_fn(vec)
                _, jvps = jvp(f2, (params,), (vjps,))
                return jvps

            basis = torch.eye(out.numel(), dtype=out.dtype).view(out.numel(), -1)
            return vmap(row)(basis)

        pairs = vmap(vmap(get_ntk, (None, 0)), (0, None))

        def run():
            with torch.no_grad():
                blocks = [pairs(xt[i:i + ROWS_PER_BLOCK], xt) for i in range(0, xt.shape[0], ROWS_PER_BLOCK)]
                k = torch.cat(blocks, dim=0)  # N × N × k × k
                if outputs == 1:
                    return torch.einsum("NMKK->NM", k)
                return k
    else:
        raise ValueError(recipe)

    return run, lambda k: _to_numpy(k, outputs)
