"""World Models on CarRacing-v3 with a DDS vision model (document 000, Section 4.2, Appendices A-B).

One idea per module: `rollouts` (seeded Brownian-policy rollouts in parallel processes, cached),
`vision` (Ha's conv VAE and the DDS vision model of Figure 2 with Eqs. 7-8), `mdn_rnn` (the
memory model), `controller` (the linear controller and CMA-ES on real rollouts), `dreams`
(imagined sequences), `features` (feature networks for Frechet distances, proxies named),
`training` (each model trained through `repro_lib.train.fit`, so cached by content).
Importing the package registers the model families.
"""
from . import controller, dreams, features, mdn_rnn, rollouts, training, vision  # noqa: F401  (families)
