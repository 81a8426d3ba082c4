"""Plant one bug at a time in a copy of the repository (its committed HEAD) and run the test suite
against it.

Each mutation changes one critical formula (masks, normalisers, metric, thresholds, constants,
adjoints, derivations); the suite must fail on every one. A mutation of a derivation (``derive*.py``)
or of the code generator is followed by ``python -m gradflow.derive`` in the copy, so the
generated kernels carry the bug and the staleness test cannot be what catches it. Each catch says how: ``behaviour`` (a test of behaviour failed), ``pinned`` (only the tests in
:data:`PINNED`, which compare with recorded numbers, failed) or ``time-out``. Prints the table and writes
``benchmarks/results/mutation.json`` and ``.md`` (the README's "What is checked" shows it).

Run: ``python tools/mutation.py [--only SUBSTRING] [--timeout SECONDS]`` (``--only`` re-runs the
matching mutations and updates their rows in the stored table).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: (system, file, text, replacement, what the bug is)
MUTATIONS = [
    ("core", "gradflow/flows.py",
     "np.linalg.inv(system.metric()[np.ix_(self.idx, self.idx)])",
     "np.linalg.inv(system.metric())[np.ix_(self.idx, self.idx)]",
     "restricted weight flow uses the sub-block of G⁻¹ instead of (G_SS)⁻¹"),
    ("core", "gradflow/criteria.py",
     "key=lambda n: times[n])",
     "key=lambda n: -times[n])",
     "emergence order reversed"),
    ("core", "gradflow/criteria.py",
     "    if value_of_step(0) < level:\n        return float(t[0])",
     "    if value_of_step(0) < level:\n        return float(t[1])",
     "loss criterion met at the start reports the first step instead of t0"),
    ("tokens", "gradflow/systems/tokens/continuum.py",
     "DEFICIT_CONSTANT = float(np.log(4 * np.sqrt(2)) + 4)",
     "DEFICIT_CONSTANT = float(np.log(4) + 4)",
     "large-N constant ln(4√2) + 4 -> ln 4 + 4"),
    ("tokens", "gradflow/systems/tokens/reference.py",
     "causal = np.tril(np.ones((T, T), dtype=bool))",
     "causal = np.tril(np.ones((T, T), dtype=bool), k=-1) | np.eye(T, dtype=bool) * (np.arange(T) == 0)",
     "reference's causal mask made strict (a token no longer attends to itself)"),
    ("tokens", "gradflow/systems/tokens/reduced.py",
     "    w = 1.0 / N\n",
     "    w = 1.0 / (N + 1)\n",
     "query average normalised by N + 1"),
    ("tokens", "gradflow/systems/tokens/reduced.py",
     "value, g = _loss_grad(theta, task.N, float(task.L - task.N))",
     "value, g = _loss_grad(theta, task.N, float(task.L - task.N + 1))",
     "one absent label too many in the gradient path"),
    ("tokens", "gradflow/systems/tokens/reduced.py",
     "Dbar = -invD * ((g2 * s_ln + g3 * s_le) * invD)",
     "Dbar = invD * ((g2 * s_ln + g3 * s_le) * invD)",
     "sign of the softmax normaliser's adjoint"),
    ("tokens", "gradflow/systems/tokens/reduced.py",
     "shift = M if M - bottom <= SHIFT_LIMIT else top",
     "shift = M",
     "blocked shifts disabled (global shift for every run)"),
    ("tokens", "gradflow/systems/tokens/subspace.py",
     "return a1 * a2 * n + (a1 * b2 + b1 * a2) * n + b1 * b2 * n * n",
     "return a1 * a2 * n + (a1 * b2 + b1 * a2) * n + b1 * b2 * n * (n - 1)",
     "Gram matrix: J·J block inner product n(n−1) instead of n²"),
    ("tokens", "gradflow/systems/tokens/__init__.py",
     'LossBelow("T", 0.5 * logN, "½ log N")',
     'LossBelow("T", 0.55 * logN, "½ log N")',
     "emergence threshold ½ log N -> 0.55 log N"),
    ("tokens", "gradflow/systems/tokens/__init__.py",
     "THRESHOLDS = (0.1, 1.0)",
     "THRESHOLDS = (0.1, 0.9)",
     "parameter threshold 1 -> 0.9"),
    ("tokens", "gradflow/systems/tokens/_kernels.py",
     "t7 = 1/(N*t3 + t5 + t6)",
     "t7 = 1/((N + 1)*t3 + t5 + t6)",
     "generated kernel: query's layer-1 normaliser off by one label"),
    ("tokens", "gradflow/systems/tokens/symmetry.py",
     "                off = (total - diag) / (n * n - n)",
     "                off = (total - diag) / (n * n)",
     "orbit average: off-diagonal mean over n² instead of n² − n"),
    ("paper", "gradflow/systems/paper/derive_loss.py",
     "pre = 2 * (j - 1) * inv + rm1 * after",
     "pre = 2 * j * inv + rm1 * after",
     "paper derivation: a key's earlier-token count off by one in ⟨h1_T, h1_key⟩"),
    ("paper", "gradflow/systems/paper/derive_loss.py",
     "a: E(al3 - m3) / (E(al3 - m3) + (2 * j - 2) * E(-m3)),",
     "a: E(al3 - m3) / (E(al3 - m3) + (2 * j - 1) * E(-m3)),",
     "paper derivation: layer-1 normaliser of a label counts one key too many"),
    ("paper", "gradflow/systems/paper/derive_loss.py",
     "C_J = sp.Piecewise((0, sp.Eq(j, 1)), (1 / (2 * j - 2), True))",
     "C_J = sp.Piecewise((0, sp.Eq(j, 1)), (1 / (2 * j - 1), True))",
     "paper derivation: an item's layer-1 weight 1/(2j − 2) -> 1/(2j − 1)"),
    ("paper", "gradflow/systems/paper/derive_loss.py",
     "g4 * (F / Z + a * ey / Z)",
     "g4 * (F / Z + b * ey / Z)",
     "paper derivation: read-out's own-item weight a -> b in h1 of a label"),
    ("paper", "gradflow/systems/paper/derive_loss.py",
     'L += ["    grad *= 0.5 * w", "    hess *= 0.5 * w",',
     'L += ["    grad *= w", "    hess *= 0.5 * w",',
     "paper derivation: Hessian kernel's gradient without the loss's ½"),
    ("paper", "gradflow/systems/paper/derive_loss.py",
     '"            fbar = run", "            run += Fbar[j - 1]",',
     '"            run += Fbar[j - 1]", "            fbar = run",',
     "paper derivation: reverse mode's prefix sum of F̄ includes the key itself"),
    ("paper", "gradflow/codegen.py",
     'out.append(f"{pad}{grad}[{p.index}] += {scale}{c} * {p.d}")',
     'out.append(f"{pad}{grad}[{p.index}] += {scale}{c}")',
     "code generator: reverse mode misses a layer-1 weight's derivative"),
    ("paper", "gradflow/codegen.py",
     'cross({hess}, {c} * {single.d}, {dense.d}, {single.index}, {dense.size})',
     'cross({hess}, {c}, {dense.d}, {single.index}, {dense.size})',
     "code generator: Hessian cross term misses the layer-1 weight's derivative"),
    ("paper", "gradflow/systems/paper/derive_loss.py",
     '"        n0 = 2.0 * j - 1.0"',
     '"        n0 = 2.0 * j"',
     "paper derivation: uniform-query head kernel misses one zero-score key"),
    ("paper", "gradflow/systems/paper/uniform_law.py",
     "return float(psi + g_beta - 0.5), float(psi + g_alpha)",
     "return float(psi + g_beta), float(psi + g_alpha)",
     "paper: uniform law's offset without the keys after the query (−½)"),
    ("paper", "gradflow/systems/paper/reference.py",
     "allowed = np.tril(np.ones((T, T), dtype=bool), k=0 if mask == \"self\" else -1)",
     "allowed = np.tril(np.ones((T, T), dtype=bool), k=0)",
     "paper: reference's strict causal mask lets a token attend to itself"),
    ("paper", "gradflow/systems/paper/__init__.py",
     "return self.D * np.eye(len(self.names))",
     "return (self.D - 1) * np.eye(len(self.names))",
     "paper: metric D·I -> (D − 1)·I"),
    ("paper", "gradflow/systems/paper/__init__.py",
     "THRESHOLDS = (0.1, 0.5)",
     "THRESHOLDS = (0.1, 0.45)",
     "paper: Definition 1 threshold 0.5 -> 0.45"),
    ("paper", "gradflow/systems/paper/derive.py",
     "tau = lambda beta: 4 * sp.sqrt(sp.pi / 2) * sp.erf(beta / sp.sqrt(2))",
     "tau = lambda beta: 4 * sp.sqrt(sp.pi / 2) * sp.erf(beta / 2)",
     "paper: derived constant erf(β/√2) -> erf(β/2)"),
    ("markov", "gradflow/systems/markov/reference.py",
     "    Z = c2[live].sum()",
     "    Z = c2.sum()",
     "markov: reference's selector normaliser counts the coefficients with 0 ∈ R"),
    ("markov", "gradflow/systems/markov/reduced.py",
     "                g_y[x] = -rho[q, x] / (y[x] + eps)",
     "                g_y[x] = -rho[q, x] / (y[x] + 2 * eps)",
     "markov: nll gradient with 2ε in the kernel"),
    ("markov", "gradflow/systems/markov/reduced.py",
     "        g_band[:, :mm] += s * (g_sig - np.sum(s * g_sig, axis=1, keepdims=True))",
     "        g_band[:, :mm] += s * (g_sig + np.sum(s * g_sig, axis=1, keepdims=True))",
     "markov: sign in the layer-1 softmax's backward"),
    ("markov", "gradflow/systems/markov/population.py",
     "        rho.append(law.reshape(-1, S) / n_k)",
     "        rho.append(law.reshape(-1, S))",
     "markov: L → ∞ population not averaged over kernels"),
    ("markov", "gradflow/systems/markov/population.py",
     "        m = np.clip(pos - h, 0, H)",
     "        m = np.clip(pos - h + 1, 0, H)",
     "markov: one inadmissible offset counted at the start of a sequence"),
    ("markov", "gradflow/systems/markov/stage1.py",
     "    kappa = 4 * a0 / Z",
     "    kappa = 2 * a0 / Z",
     "markov: replicator rate 4a/Z -> 2a/Z"),
    ("markov", "gradflow/systems/markov/mi.py",
     "        inner = np.where(px > 0, cond ** 2 / px, 0.0).sum(axis=1) - 1.0",
     "        inner = np.where(px > 0, cond ** 2 / px, 0.0).sum(axis=1) - 0.9",
     "markov: modified χ² MI's −1 -> −0.9"),
    ("markov", "gradflow/systems/markov/__init__.py",
     "        return float(np.mean(gains) - 0.5)",
     "        return float(np.mean(gains) - 0.4)",
     "markov: copier stage at 40 % instead of half the error"),
    ("markov", "gradflow/systems/markov/params.py",
     "W_PLUS, W_MINUS, C_INIT, A_INIT = 3.0, 0.1, 0.01, 0.01",
     "W_PLUS, W_MINUS, C_INIT, A_INIT = 3.0, 0.1, 0.01, 0.1",
     "markov: the authors' initial a 0.01 -> 0.1"),
    # issue 21: the areas an independent check found unguarded
    ("core", "gradflow/sweeps.py",
     'text = json.dumps({"run": run, "version": __version__}',
     'text = json.dumps({"run": {k: v for k, v in run.items() if k not in ("L", "S", "count")}, "version": __version__}',
     "sweep run key ignores some system sizes (two runs collide)"),
    ("core", "gradflow/sweeps.py",
     "    finally:\n        if tmp.exists():\n            tmp.unlink()\n\n\ndef read_row",
     "    finally:\n        pass\n\n\ndef read_row",
     "a store write interrupted halfway leaves its temporary file"),
    ("core", "gradflow/sweeps.py",
     "    if version != STORE_VERSION:",
     "    if False:",
     "rows of another store version are read as current"),
    ("core", "gradflow/sweeps.py",
     '    signal.signal(signal.SIGINT, signal.SIG_IGN)',
     '    pass',
     "sweep workers take Ctrl-C themselves (tracebacks)"),
    ("core", "gradflow/result.py",
     'log_params=tuple(meta.get("log_params", ())), optimizer=meta.get("optimizer"),',
     'log_params=(), optimizer=meta.get("optimizer"),',
     "a loaded result forgets which parameters were integrated in log coordinates"),
    ("core", "gradflow/result.py",
     'return cls(system=sys_, flow=meta["flow"], params=tuple(meta["params"]),',
     'return cls(system=sys_, flow=meta["flow"], params=tuple(meta["names"]),',
     "a loaded result forgets which parameters were held"),
    ("core", "gradflow/flows.py",
     "        dy[self.log] *= self._from_log(y)",
     "        dy[self.log] *= np.abs(self._from_log(y))",
     "dθ/dt of a log coordinate loses its sign"),
    ("core", "gradflow/solver.py",
     'status, message = "interrupted", f"interrupted at t = {ts[-1]:.6g}',
     'status, message = "failed", f"interrupted at t = {ts[-1]:.6g}',
     "an interrupted solve is reported as failed (nothing saved, exit 1)"),
    ("core", "gradflow/_compile.py",
     "condition=lambda: compiles_started() > before):",
     "condition=None):",
     "compile notice for a slow call that compiles nothing"),
    ("paper", "gradflow/systems/paper/__init__.py",
     "        elif self.N > 10 ** 7:",
     "        elif self.N >= 10 ** 7:",
     "size limit refuses N exactly at the limit"),
    ("markov", "gradflow/systems/markov/__init__.py",
     "if memory > MAX_BYTES or seconds > MAX_EVAL_SECONDS:",
     "if memory >= MAX_BYTES or seconds > MAX_EVAL_SECONDS:",
     "markov size limit refuses a setting exactly at its memory limit"),
    ("markov", "gradflow/systems/markov/__init__.py",
     'data = s["count"] * (L + 1) * 8 + s["count"] * float(S) ** s["n"] * 8',
     'data = s["count"] * (L + 1) * 8',
     "markov memory estimate leaves out the kernels a sample is drawn with"),
    ("markov", "gradflow/systems/markov/task.py",
     "        pivot = A[k, :k].sum()",
     "        pivot = 1.0 - A[k, k]",
     "stationary law's GTH pivot by subtraction (1 − P_kk)"),
    ("markov", "gradflow/systems/markov/reduced.py",
     "    g_c = r_c if rates else c * r_c",
     "    g_c = c * r_c",
     "selector rates returned as gradients (log coordinates get ∂L/∂c)"),
    ("markov", "gradflow/systems/markov/population.py",
     "    return max(2 * H - 1, n - 1)",
     "    return max(2 * H - 2, n - 1)",
     "L → ∞ window one token too short"),
    ("markov", "gradflow/systems/markov/params.py",
     "for d in range(self.D + 1) for R in itertools.combinations(range(1, self.H + 1), d))",
     "for d in reversed(range(self.D + 1)) for R in itertools.combinations(range(1, self.H + 1), d))",
     "markov layout's subsets in another order"),
    ("paper", "gradflow/systems/paper/quadrature.py",
     "    S = np.array([seg[i + 1:].sum(axis=0) for i in range(n)])",
     "    S = np.array([seg[i:].sum(axis=0) for i in range(n)])",
     "quadrature: a node's in-panel suffix sum includes the node itself"),
    ("paper", "gradflow/systems/paper/derive_loss.py",
     '"            for l in range(s0, s1):", "                F += S[i, l - s0] * fv[l]"]',
     '"            for l in range(s0, s1):", "                F += S[l, i - s0] * fv[l]"]',
     "quadrature kernel reads the suffix weights transposed"),
    ("paper", "gradflow/systems/paper/reference.py",
     "    allowed = np.tril(np.ones((T, T), dtype=bool), k=0 if mask == \"self\" else -1)",
     "    allowed = np.tril(np.ones((T, T), dtype=bool), k=-1)",
     "family: mask='self' ignored in layer 1"),
    ("paper", "gradflow/systems/paper/reference.py",
     "    return T if mask == \"self\" else T - 1",
     "    return T - 1",
     "family: the query never attends to itself (mask='self' in layer 2)"),
    ("paper", "gradflow/systems/paper/setting.py",
     "        return (\"I\", \"M\") if self.labels == \"rotated\" else (\"I\",)",
     "        return (\"I\", \"M\")",
     "family: labels at their item's position keep the M-blocks (the wrong invariant space)"),
    ("paper", "gradflow/systems/paper/setting.py",
     "            return [(tuple(P) + (N - 1,), N - 1) for P in itertools.combinations(range(N - 1), B - 1)]",
     "            return [(tuple(P) + (N - 1,), N - 1) for P in itertools.combinations(range(N), B - 1) if N - 1 not in P]"
     " + [((N - 1,), N - 1)]",
     "family: burst placements with an extra B = 1 sequence"),
    ("paper", "gradflow/systems/paper/reference.py",
     "    p[rows, target] = -rest / norm                       # p_target − 1 = −Σ_{t≠target} p_t, no cancellation",
     "    p[rows, target] = rest / norm",
     "cross-entropy: the target's gradient with the wrong sign"),
    ("core", "gradflow/optimizers/adam.py",
     "            mh, vh = m / -np.expm1(-l1 * t), v / -np.expm1(-l2 * t)",
     "            mh, vh = m, v",
     "optimizers: Adam without its bias correction"),
    ("core", "gradflow/optimizers/adam.py",
     "        l1, l2 = (1.0 - self.beta1) / self.lr, (1.0 - self.beta2) / self.lr\n        if t > 0:\n            mh",
     "        l1, l2 = (1.0 - self.beta2) / self.lr, (1.0 - self.beta1) / self.lr\n        if t > 0:\n            mh",
     "optimizers: Adam's two moment rates swapped in its flow"),
    ("core", "gradflow/optimizers/adam.py",
     "return np.concatenate([np.full(n, self.eps), np.full(n, self.eps ** 2)])",
     "return np.concatenate([np.full(n, self.eps), np.full(n, self.eps)])",
     "optimizers: Adam's second moment integrated to ε instead of ε² (absolute)"),
    ("core", "gradflow/optimizers/momentum.py",
     "        return -b, (h - (1.0 - self.momentum) * b) / self.lr",
     "        return -b, (h - self.momentum * b) / self.lr",
     "optimizers: heavy ball's velocity relaxes at μ/η instead of (1 − μ)/η"),
    ("core", "gradflow/optimizers/momentum.py",
     "        return _MomentumSteps(eta / self.lr, self.momentum, eta)",
     "        return _MomentumSteps(1.0, 1.0 - (1.0 - self.momentum) * eta / self.lr, eta)",
     "optimizers: momentum's discrete family at PyTorch's own lr (does not converge to the flow)"),
    ("core", "gradflow/optimizers/sign.py",
     "        return -h / (np.abs(h) + self.eps), np.zeros(0)",
     "        return -h / np.maximum(np.abs(h), self.eps), np.zeros(0)",
     "optimizers: sign descent regularised by max(|h|, ε) instead of |h| + ε"),
    ("core", "gradflow/flows.py",
     "            return (g.T / (self.count * self.scale)).T",
     "            return (g.T / self.count).T",
     "optimizers: an entry's gradient not divided by its scale on the weight flow"),
    ("core", "gradflow/flows.py",
     "        if self.scale is not None:\n            step = step / self.scale",
     "        if self.scale is not None:\n            step = step * self.scale",
     "optimizers: θ's step multiplied by the entries' scale instead of divided"),
    ("core", "gradflow/solver.py",
     "                if fl.monotone and recent > lowest",
     "                if recent > lowest",
     "optimizers: a rising loss ends a momentum or Adam solve as failed"),
    ("core", "gradflow/result.py",
     "        if self.state is not None:\n            arrays[\"state\"] = self.state",
     "        if False:\n            arrays[\"state\"] = self.state",
     "optimizers: the state is not saved"),
    ("paper", "gradflow/systems/paper/__init__.py",
     "        return np.full(n, float(self.D)), np.ones(n)",
     "        return np.full(n, float(self.D - 2)), np.ones(n)",
     "optimizers: paper's elementwise count D − 2"),
    ("paper", "gradflow/systems/paper/derive.py",
     "    s, s_x, s_q = b2 * a, b2 / (2 * N - 1), 2 * b2 / (2 * N + 1)",
     "    s, s_x, s_q = b2 * a, b2 / (2 * N - 1), b2 / (2 * N + 1)",
     "family: the self mask's query scores x_q once in its own layer-1 mean"),
    ("paper", "gradflow/systems/paper/derive.py",
     "        return log1p((2 * N - 1) * E(g3 * (p[\"w\"] - p[\"P\"])))",
     "        return log1p((2 * N - 2) * E(g3 * (p[\"w\"] - p[\"P\"])))",
     "family: cross-entropy head with one content too few among the logits"),
    ("paper", "gradflow/systems/paper/heads.py",
     "_HEAD_INDEX = [NAMES.index(n) for n in HEAD]",
     "_HEAD_INDEX = [NAMES.index(n) for n in (\"alpha2\", \"beta2\", \"gamma3\")]",
     "family: labels='same' head mapped to the paper's α2 instead of α3"),
    ("paper", "gradflow/systems/paper/burst.py",
     "            sx = c / (2.0 * j - 2.0) if j > 1 else 0.0",
     "            sx = c / (2.0 * j - 1.0) if j > 1 else 0.0",
     "family: burst's item keys share x_q's weight among 2j − 1 keys instead of 2j − 2"),
    ("paper", "gradflow/systems/paper/burst.py",
     "                p1 = free / left",
     "                p1 = free / (left + 1)",
     "family: burst's sequential draw joins S with one pair too many left"),
    ("paper", "gradflow/systems/paper/burst.py",
     "                sy = member * a + c * b",
     "                sy = member * a + (c > 0) * b",
     "family: burst's labels count at most one earlier occurrence"),
    ("paper", "gradflow/systems/paper/burst.py",
     "                dey[1], dey[2] = ey * beta2 * (member * da + c * db), ey * sy",
     "                dey[1], dey[2] = ey * beta2 * (member * da - c * db), ey * sy",
     "family: burst's forward-mode ∂/∂α3 of the labels' score with the wrong sign of ∂b"),
    ("paper", "gradflow/systems/paper/burst.py",
     "    w = H * s * (1.0 + np.exp(-u))",
     "    w = H * s",
     "family: burst's quadrature weights without the substitution's Jacobian"),
    ("paper", "gradflow/systems/paper/ce_head.py",
     "    e_query = np.exp(2.0 * b2 / (2.0 * N + 1.0) - top) if selfmask else 0.0",
     "    e_query = np.exp(b2 / (2.0 * N + 1.0) - top) if selfmask else 0.0",
     "family: cross-entropy's self-mask query key counts x_q once in its layer-1 mean"),
    ("paper", "gradflow/systems/paper/ce_head.py",
     "        s += np.exp(g * ex[j] - shift) + np.exp(g * ey[j] - shift)",
     "        s += np.exp(g * ex[j] - shift) + np.exp(g * ey[j])",
     "family: cross-entropy's log-sum-exp misses its shift on the labels after the query"),
    ("paper", "gradflow/systems/paper/symmetry.py",
     "for phase in (1, 1j, -1, -1j)",
     "for phase in (1, -1)",
     "symmetry: the positions' finite group without the phase i (it then fixes more than span{I, M})"),
    ("paper", "gradflow/systems/paper/symmetry.py",
     "(-1) ** k * 1j ** j)",
     "(-1) ** k * 1 ** j)",
     "symmetry: the coupled group's positions with a real character (U then equals its conjugate)"),
    ("core", "gradflow/solver.py",
     "    return bool(np.max(np.abs(step)) <= STATIONARY_STEP * max(1.0, np.max(np.abs(y0))))",
     "    return True",
     "a gradient below STATIONARY_TOL alone makes the start stationary (a start by a saddle never moves)"),
    ("paper", "gradflow/systems/paper/heads.py",
     "        if st.mask != \"strict\":\n            return None\n        twin",
     "        twin",
     "family: labels='same' with the self mask takes its rotated twin's closed-form head"),
]


#: tests that compare with recorded numbers (benchmark JSON, the README's printed output): a bug
#: caught only by them would pass once the numbers were re-recorded, so such catches are counted
#: apart (the goal: none)
PINNED = ["tests/test_readme.py", "tests/markov/test_readme_markov.py", "tests/paper/test_readme_paper.py",
          "tests/tokens/test_benchmark_rows.py", "tests/paper/test_family_rows.py",
          "tests/core/test_readme_optimizers.py"]


def copy_tree(dest: Path) -> None:
    """The committed tree (HEAD), so that edits made while the script runs cannot leak into it."""
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)


def run_one(m, timeout: float) -> dict:
    system, path, old, new, what = m
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        copy_tree(tmp)
        text = (tmp / path).read_text(encoding="utf-8")
        if text.count(old) != 1:                       # the script is out of date: say so in the table
            return {"system": system, "file": path, "bug": what, "caught": False,
                    "by": f"NOT APPLIED: the text occurs {text.count(old)} times", "seconds": 0.0}
        (tmp / path).write_text(text.replace(old, new), encoding="utf-8")
        env = dict(os.environ, PYTHONPATH=str(tmp), GRADFLOW_THREADS="1", NUMBA_CACHE_DIR=str(tmp / ".numba"))
        if Path(path).name.startswith("derive") or Path(path).name == "codegen.py":
            # a wrong derivation is regenerated (as a developer would commit it): the numerical
            # tests, not the staleness test, must catch it
            regen = subprocess.run([sys.executable, "-m", "gradflow.derive"], cwd=tmp, env=env,
                                   capture_output=True, text=True)
            if regen.returncode != 0:
                return {"system": system, "file": path, "bug": what, "caught": True, "how": "behaviour",
                        "by": "python -m gradflow.derive (the derivation's own check)",
                        "seconds": time.perf_counter() - start}
        where = subprocess.run([sys.executable, "-c", "import gradflow; print(gradflow.__file__)"], cwd=tmp,
                               env=env, capture_output=True, text=True).stdout.strip()
        if not where.startswith(str(tmp)):
            raise SystemExit(f"the copy's gradflow is not the one imported ({where})")
        caught, how, first = False, "", ""
        # first the behavioural tests; the pinned ones only when those miss the bug
        for kind, selection in (("behaviour", [f"--ignore={p}" for p in PINNED] + ["tests"]), ("pinned", PINNED)):
            try:
                p = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *selection],
                                   cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
            except subprocess.TimeoutExpired:
                caught, how, first = True, "time-out", f"suite timed out after {timeout:g} s"
                break
            if p.returncode != 0:
                failed = [line.split(" ")[1] for line in p.stdout.splitlines() if line.startswith("FAILED ")]
                caught, how = True, kind
                first = failed[0] if failed else p.stdout.strip().splitlines()[-1]
                break
    return {"system": system, "file": path, "bug": what, "caught": caught, "how": how, "by": first,
            "seconds": time.perf_counter() - start}


def markdown(rows) -> str:
    n = sum(r["caught"] for r in rows)
    weak = [r for r in rows if r.get("how") in ("pinned", "time-out")]
    lines = [f"Mutation check (`python tools/mutation.py`): {n} of {len(rows)} planted bugs caught; "
             f"{len(weak)} of the catches came only from pinned numbers (benchmark JSON, README output) or a time-out.",
             "", "| system | planted bug | caught | by | first failing test |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['bug']} | {'yes' if r['caught'] else '**no**'} | {r.get('how', '')} "
                     f"| `{r['by']}` |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="", help="run only mutations whose description contains this "
                   "(alternatives separated by |)")
    p.add_argument("--timeout", type=float, default=300.0,
                   help="seconds per suite run (a bug that makes a solve run on forever is caught by it)")
    p.add_argument("--jobs", type=int, default=2, help="suites run at the same time")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args(argv)
    from concurrent.futures import ThreadPoolExecutor
    wanted = [w for w in args.only.split("|") if w]
    chosen = [m for m in MUTATIONS if not wanted or any(w in m[4] for w in wanted)]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(run_one, m, args.timeout) for m in chosen]
        rows = []
        for f in futures:
            rows.append(f.result())
            r = rows[-1]
            print(f"{'caught' if r['caught'] else 'NOT CAUGHT':10s} {r.get('how', ''):9s} {r['seconds']:6.1f} s  {r['bug']}  ({r['by']})",
                  flush=True)
    stored = args.out / "mutation.json"
    if args.only and stored.exists():         # re-run of some mutations: update their rows only
        fresh = {r["bug"]: r for r in rows}
        order = [m[4] for m in MUTATIONS]
        old = {r["bug"]: r for r in json.loads(stored.read_text()) if r["bug"] in order}
        old.update(fresh)
        rows = [old[b] for b in order if b in old]
    print(markdown(rows))
    if not args.only or stored.exists():
        args.out.mkdir(parents=True, exist_ok=True)
        stored.write_text(json.dumps(rows, indent=1))
        (args.out / "mutation.md").write_text(markdown(rows))
    return 0 if all(r["caught"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
