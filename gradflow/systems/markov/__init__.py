"""markov: the second seed paper's n-gram Markov task (Chen, Sheen, Wang, Yang 2024;
../shared/SPEC-markov.md) — so far its task and its selection criterion, not yet a system.

* :mod:`.task`: the sampler with per-sequence Dirichlet kernels, the exact prior probability of a
  sequence (Dirichlet-multinomial; enumeration of every short sequence), stationary window laws;
* :mod:`.mi`: the modified χ² mutual information Ĩ(R) of SPEC-markov §3 with standard errors over a
  frozen sample of kernels.

The simplified transformer, its reduced evaluation and its flow (the System registered as
``"markov"``) are the next step; until then nothing here is in the registry.
"""
