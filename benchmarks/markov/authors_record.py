"""Extract the authors' recorded joint run into benchmarks/results/markov/authors_record.json.

Source: gszfwsb/Unveiling-Induction-Heads (commit 9a620e4), file
``RPE/results_paper/NGram/CWa_parent2_n10000_L100_S3_H3_1.0_optsgd_w+3.0_w-0.1_D2_c_alpha_init0.01_a_init0.01_alpha0.1_n-epochs[50000].npz``:
S = 3, n = 3 (parents at offsets 1, 2), L = 100, H = 3, D = 2, α = 0.1, 10 000 sequences (9 000 for
training), all parameters trained jointly ("CWa") by full-batch SGD at lr 1 for 50 000 epochs, the
authors' initialisation, ``nn.CrossEntropyLoss`` on y (our "ce_softmax"). Their train loss is
summed over batches and divided by the number of training sequences, so with one full batch it is
the mean loss / 9000; we multiply back. Their loop records ``loss.item()`` of the forward pass that
precedes each ``optimizer.step()``, so entry k of ``train_loss_list_1`` is the loss at the
parameters after k updates, the same index as ``a_list`` and ``C_list`` (entry 0: the start).

``python benchmarks/markov/authors_record.py PATH.npz`` (fetch the repository first).

``python benchmarks/markov/authors_record.py --full PATH.npz`` extracts their full-model run
(Appendix B) into authors_full_record.json: ``RPE/results_paper/NGram/Full_parent2_n10000_L100_S3_H3_
lr0.001_optsgd_w+1.0_w-0.01_D2_alpha0.1_n-epochs10000_[True, True].npz`` — their
``TwoLayerTransformer`` with Q, K and O trained, SGD at lr 1e-3 for 10 000 epochs (flow time 10)
on the same task, band init w+ = 1, w− = 0.01, c_R = a = 0.01. Its recorded Q and K are ≈ 9.5e-4 on
the diagonal, so the run started from Q = K = O = 1e-3·I (the model's default ``proj_init``; the
present train.py passes 0.01); our flow from 1e-3 ends at 9.6e-4 (benchmarks/markov/full_model.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "markov" / "authors_record.json"
EPOCHS = (10, 100, 1000, 10000)
SOURCE = ("gszfwsb/Unveiling-Induction-Heads@9a620e4: RPE/results_paper/NGram/CWa_parent2_n10000_L100_S3_H3_1.0_"
          "optsgd_w+3.0_w-0.1_D2_c_alpha_init0.01_a_init0.01_alpha0.1_n-epochs[50000].npz")
N_TRAIN = 9000
#: the authors' subset order (degrees over components 0..3, 0 not in R): '0000' … '0110'
AUTHORS_SUBSETS = [(), (3,), (2,), (2, 3), (1,), (1, 3), (1, 2)]


def extract(path: Path) -> dict:
    d = np.load(path, allow_pickle=True)
    assert [str(x) for x in d["alphas"]] == ["0000", "0001", "0010", "0011", "0100", "0101", "0110"]
    C, a = d["C_list"].astype(float), d["a_list"]
    share = lambda e: float(C[e, 6] ** 2 / np.sum(C[e] ** 2))       # R = {1, 2}: the true parents
    train = d["train_loss_list_1"] * N_TRAIN                            # entry e: the loss after e updates
    W = d["W_after"][0]
    band_after = [[float(W[h + j, h]) for j in range(3)] for h in range(3)]
    return {"source": SOURCE,
            "epochs": list(EPOCHS),
            "a": {str(e): float(a[e]) for e in EPOCHS},
            "share_true_parents": {str(e): share(e) for e in (1, 2, 5, 10, 100)},
            "train_loss": {str(e): float(train[e]) for e in EPOCHS},
            "band_after_50000": band_after,
            # float32: the losing coefficients' largest |c| from epoch 1000 on (underflow)
            "max_abs_losing_c_from_1000": float(np.max(np.abs(C[1000:, :6])))}


FULL_OUT = OUT.with_name("authors_full_record.json")
FULL_SOURCE = ("gszfwsb/Unveiling-Induction-Heads@9a620e4: RPE/results_paper/NGram/Full_parent2_n10000_L100_S3_H3_"
               "lr0.001_optsgd_w+1.0_w-0.01_D2_alpha0.1_n-epochs10000_[True, True].npz")
FULL_EPOCHS = (1000, 2000, 5000, 10000)
#: lr × epochs: the flow time of an epoch
FULL_LR = 1e-3


def extract_full(path: Path) -> dict:
    d = np.load(path, allow_pickle=True)
    assert [str(x) for x in d["alphas"]] == ["0000", "0001", "0010", "0011", "0100", "0101", "0110"]
    C, a = d["C_list"].astype(float), d["a_list"]
    names = ["".join(map(str, R)) or "empty" for R in AUTHORS_SUBSETS]
    shares = lambda e: dict(zip(names, (C[e] ** 2 / np.sum(C[e] ** 2)).tolist()))
    W = d["W_after"]
    mats = {}
    for key, name in (("W_Q", "Q"), ("W_K", "K"), ("W_V", "O")):
        M = d[key].astype(float)                                     # (S, S, H)
        eye = np.eye(M.shape[0], dtype=bool)
        mats[name] = {"diagonal": [float(M[:, :, h][eye].mean()) for h in range(M.shape[2])],
                      "off_diagonal": [float(M[:, :, h][~eye].mean()) for h in range(M.shape[2])],
                      "off_span": float(max(np.max(np.abs(M[:, :, h] - np.where(eye, M[:, :, h][eye].mean(),
                                                                                 M[:, :, h][~eye].mean())))
                                            for h in range(M.shape[2])))}
    return {"source": FULL_SOURCE, "lr": FULL_LR, "epochs": list(FULL_EPOCHS),
            "a": {str(e): float(a[e]) for e in FULL_EPOCHS},
            "shares": {str(e): shares(e) for e in FULL_EPOCHS},
            "band_after": [[float(W[h + j, h]) for j in range(3)] for h in range(3)],
            "matrices_after": mats}


if __name__ == "__main__":
    if sys.argv[1] == "--full":
        rec, out = extract_full(Path(sys.argv[2])), FULL_OUT
    else:
        rec, out = extract(Path(sys.argv[1])), OUT
    out.write_text(json.dumps(rec, indent=1) + "\n")
    print(json.dumps(rec, indent=1))
