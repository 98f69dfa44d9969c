"""Write the attribution-priors notebooks from the cell texts below (kept so edits
to shared boilerplate happen once). Run: python tools/make_notebooks.py"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from nbgen import code, md, params  # noqa: E402
from nbgen import write as write_notebook  # noqa: E402

PART = "attribution_priors"


def setup(name, knobs):
    args = ", ".join(f"{k}={k}" for k in knobs)
    return code(f"""
import warnings
warnings.filterwarnings("ignore", category=UserWarning)
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from IPython.display import HTML, display

from repro_lib import plots
from repro_lib.experiments import attribution_priors as ap
from repro_lib.profiles import settings
from repro_lib.results import Recorder

s = settings(ap.PART, profile, {args})
record = Recorder(ap.PART, "{name}", profile)
splits = ap.load_splits(s)
print(f"profile {{profile}}: {{len(splits.train)}} training and {{len(splits.test)}} test images, "
      f"{{s.epochs}} epochs, batch {{s.batch_size}} (priors estimated on {{min(s.prior_batch, s.batch_size)}} "
      f"of them); saliency measured on {{len(splits.eval)}} test images")
""")



def write(name, cells):
    write_notebook(PART, name, cells)


# ---------------------------------------------------------------- 3_method
KN = ["n_train", "epochs"]
write("3_method", [
    md(r"""
# 3 Method: saliency of latent units and three functions of it

The document (Section 3) adds a prior $\lambda\,\Omega(A(\theta, x))$ on the feature
attributions $A$ of a VAE's encoder to the usual negative ELBO (Eqs. 1, 3, 4). Attributions
are Gradient SHAP {cite}`lundberg2017shap` of each latent mean $\mu_j(x)$, as in the
label-free explainability work {cite}`crabbe2022labelfree` the document builds on. Three
functions $\Omega$ are defined:

* **total variation** of each saliency map (Eq. 2, from {cite}`erion2021priors`): sum over
  pixels of $|a_{i+1,j}-a_{i,j}| + |a_{i,j+1}-a_{i,j}|$;
* **entropy** of the share $p_j(i,x)=|a_i(\mu_j,x)|/\sum_k|a_i(\mu_k,x)|$ of feature $i$'s
  attribution that goes to latent $j$ (Eqs. 5-7), averaged over features and images;
* **Pearson correlation** between the saliency maps of two latents over (image, pixel)
  pairs, averaged over all pairs $i\neq j$ (Eqs. 8-9).

This page builds each piece from `repro_lib`, checks it against references we did not write
(captum's `GradientShap`, hand-computed values) and shows the saliency maps of a plain VAE.
Known from the author's public code and used throughout the part: MNIST resized to 32x32 in
[0, 1]; the Burgess et al. conv VAE with 3 latent units; Adam lr 1e-3, weight decay 1e-5,
batch 300, 50 epochs, beta = 1; Gradient SHAP with one all-black baseline, 5 samples, no
noise; the saliency map of latent $j$ is $|\mu_j(x)\cdot GS_j(x)|$.
"""),
    params(KN),
    setup("3_method", KN),
    md("""
## The VAE

Encoder: three 4x4 stride-2 convolutions of 32 channels (32x32 to 4x4), two dense layers of
256 units, a head giving mean and log-variance of 3 latent units. The decoder mirrors it and
ends in a sigmoid; the loss is Bernoulli negative log-likelihood summed over pixels plus the
KL to a standard normal prior (nats per image).
"""),
    code("""
from repro_lib.models import BurgessVAE
print(BurgessVAE(latent_dim=3))
vae = ap.load_model(splits, s, prior=None, lam=0.0, seed=0)
examples = ap.example_images(splits, 6)
with torch.no_grad():
    recon = vae(examples)[0]
fig, axes = plt.subplots(2, 6, figsize=(7, 2.6))
for i in range(6):
    axes[0, i].imshow(examples[i, 0].cpu(), cmap="gray"); axes[1, i].imshow(recon[i, 0].cpu(), cmap="gray")
    axes[0, i].axis("off"); axes[1, i].axis("off")
axes[0, 0].set_title("test images", loc="left", fontsize=9); axes[1, 0].set_title("reconstructions", loc="left", fontsize=9)
plt.show()
"""),
    md("""
## Gradient SHAP of every latent unit in one pass, checked against captum

`repro_lib.attribution.gradient_shap` evaluates the encoder once on all interpolation points
and takes the input gradients of all latent units in one batched backward pass. Given the
same random draws (interpolation coefficients, baseline choice, noise) it must agree with
`captum.attr.GradientShap`, which we call once per latent unit.
"""),
    code("""
from repro_lib.attribution import compare_with_captum
check = compare_with_captum(vae.encode_mean, splits.eval[:16], n_samples=s.gs_samples)
print(f"largest |ours - captum| over 3 latents x 16 images x 1024 pixels: {check:.2e}")
assert check < 1e-5
"""),
    md("""
## The three functions, on cases small enough to compute by hand
"""),
    code("""
from repro_lib.metrics.saliency import attribution_entropy, pearson_correlation, total_variation
ramp = torch.tensor([[0., 1.], [2., 3.]]).view(1, 1, 2, 2)
one_hot = torch.zeros(1, 3, 2, 2); one_hot[0, 0] = 1.0
uniform = torch.ones(1, 3, 2, 2)
twin = torch.rand(1, 1, 4, 4).repeat(1, 2, 1, 1)
hand = pd.DataFrame([
    ["total variation of [[0,1],[2,3]]", "|2-0|+|3-1|+|1-0|+|3-2| = 6", float(total_variation(ramp))],
    ["entropy, all saliency on one latent", "0", float(attribution_entropy(one_hot))],
    ["entropy, equal saliency on 3 latents", f"log 3 = {np.log(3):.4f}", float(attribution_entropy(uniform))],
    ["Pearson of two identical maps", "1", float(pearson_correlation(twin))],
], columns=["case", "by hand", "repro_lib"])
hand
"""),
    md("""
## Saliency maps of a plain VAE

Each row is a test image followed by the saliency map $|\\mu_j\\cdot GS_j|$ of each latent
unit, each scaled to its own maximum. The metrics below are computed on the evaluation
images of this profile.
"""),
    code("""
maps = ap.saliency_maps(vae, examples[:4], s.gs_samples)
plots.saliency_figure(examples[:4].cpu(), {"VAE": maps}, title="Saliency maps of the plain VAE (lambda = 0)")
plt.show()
base = ap.measure(vae, splits, s.gs_samples)
pd.Series(base, name="plain VAE, seed 0").to_frame()
"""),
    code("""
record.save({"captum_max_abs_diff": check, **{f"vae_{k}": v for k, v in base.items()},
             "hand_cases": hand.to_dict("records")})
"""),
    md("""
## What differs from the paper

Nothing is measured against a paper number on this page: Section 3 defines the method. Two
choices the text leaves open, taken from the author's and Crabbé & van der Schaar's code:
the saliency map is $|\\mu_j(x)\\,GS_j(x)|$ (the attribution scaled by the latent mean), and
total variation is averaged over maps instead of summed over images (a constant factor).
Under `smoke` and `cpu` the VAE is trained on a subset for a few epochs (see the profile line
above), so its maps are coarser than a 50-epoch model's.
"""),
])

# ---------------------------------------------------------------- 4_1
KN = ["n_train", "epochs", "tv_lambdas", "prior_batch"]
write("4_1_pixel_prior", [
    md("""
# 4.1 Pixel attribution prior (total variation)

**The document claims** (Section 4.1, Figure 1): with the total-variation prior of Eq. 2 at
$\\lambda = 0.01$, the saliency maps of the three latent units are visibly smoother, their
mean total variation is **about 50x lower** than the plain VAE's, and the reconstruction
error on the MNIST test set rises by **less than 1%**.
"""),
    params(KN),
    setup("4_1_pixel_prior", KN),
    code("""
base = ap.baseline(splits, s)
tv = ap.sweep(splits, s, "tv", s.tv_lambdas, runs=1)
frame = pd.concat([base, tv], ignore_index=True)
ap.summary(frame, ["recon_test", "tv", "tv_scale_free", "mu_abs"])
"""),
    md("""
## Figure 1: saliency maps without and with the total-variation prior
"""),
    code("""
lam = 0.01 if 0.01 in s.tv_lambdas else min(s.tv_lambdas)
examples = ap.example_images(splits, 3)
vae = ap.load_model(splits, s, None, 0.0, seed=0)
smooth = ap.load_model(splits, s, "tv", lam, seed=0)
fig = plots.saliency_figure(examples.cpu(), {
    "(a) VAE": ap.saliency_maps(vae, examples, s.gs_samples),
    f"(b) TV prior, lambda={lam}": ap.saliency_maps(smooth, examples, s.gs_samples)},
    title="Figure 1: saliency maps per latent unit, without (a) and with (b) the TV prior")
plt.show()
"""),
    md("""
## The two numbers

Ratio of mean total variation (plain VAE seed 0 over the prior's model, both seed 0), and
the relative change of the test reconstruction error (Bernoulli negative log-likelihood,
nats per image).
"""),
    code("""
b0 = base[base.seed == 0].iloc[0]
p0 = tv[(tv.lam == lam) & (tv.seed == 0)].iloc[0]
tv_ratio = b0.tv / p0.tv
recon_increase_pct = 100 * (p0.recon_test - b0.recon_test) / b0.recon_test
display(pd.DataFrame({
    "paper": ["about 50x", "< 1%", "-", "-"],
    "ours": [f"{tv_ratio:.1f}x", f"{recon_increase_pct:+.2f}%",
             f"{b0.tv_scale_free / p0.tv_scale_free:.2f}x", f"{b0.mu_abs / p0.mu_abs:.1f}x"],
}, index=["total variation, VAE / TV prior", "test reconstruction error change",
          "scale-free total variation, VAE / TV prior", "mean |mu|, VAE / TV prior"]))
if len(s.tv_lambdas) > 1:
    plots.metric_boxplots(frame, ["tv", "recon_test"], title="TV prior: total variation and test loss against lambda")
    plt.show()
"""),
    md("""
### Where the smoothing comes from

The saliency map is $|\\mu_j(x)\\,GS_j(x)|$ and, on the author's gradient path, the prior's
gradient reaches the weights only through $\\mu_j$. Total variation scales with the map, so
the cheapest way to lower it is to shrink the latent means (the decoder can undo the scale).
The last two rows separate the two effects: the *scale-free* ratio divides each map by its
own total saliency before measuring total variation, so it changes only if the maps' shapes
become smoother; the $|\\mu|$ ratio shows how much of the drop is scale.
"""),
    code("""
record.save({"tv_ratio": tv_ratio, "recon_increase_pct": recon_increase_pct, "lambda": lam,
             "tv_scale_free_ratio": b0.tv_scale_free / p0.tv_scale_free, "mu_abs_ratio": b0.mu_abs / p0.mu_abs,
             "vae_tv": b0.tv, "prior_tv": p0.tv, "vae_recon": b0.recon_test,
             "prior_recon": p0.recon_test, "models": frame.to_dict("records")})
"""),
    md("""
## What differs from the paper

The paper trains 50 epochs on all 60,000 images with the prior on every image of each batch;
the profile line above gives what this run used (under `cpu` the prior is estimated on 100 of
each batch's 300 images, which buys 2.5 times more training steps in the same time). The paper gives one model per setting; so do we (seed 0), and the plain VAE's other
seeds show how much the baseline itself varies. The scorecard counts the smoothing claim as
holding when the ratio is at least 25 (half the stated 50x), and the cost claim when the
error rises by under 1%.
"""),
])

# ---------------------------------------------------------------- 4_2
KN = ["n_train", "epochs", "entropy_lambdas", "runs_per_lambda", "prior_batch"]
write("4_2_entropy_prior", [
    md("""
# 4.2 Entropy attribution prior

**The document claims** (Section 4.2): as $\\lambda$ grows, the entropy of the latent
saliency shares falls, as intended, but their Pearson correlation rises (Figure 2, five
models per $\\lambda$); training is unstable, and at $\\lambda = 1$ all saliency collapses onto
one latent unit while the other two are dormant (Figure 3); test reconstruction loss rises
with $\\lambda$ (Figure 4).
"""),
    params(KN),
    setup("4_2_entropy_prior", KN),
    code("""
sweep, frame = ap.prior_sweep(splits, s, "entropy", s.entropy_lambdas)
ap.summary(frame)
"""),
    md("""
## Figure 2: Pearson correlation and entropy against lambda

One point per trained model; $\\lambda = 0$ is the plain VAE.
"""),
    code("""
plots.metric_boxplots(frame, ["pearson", "entropy"], title="Figure 2: entropy prior")
plt.show()
"""),
    md("""
## Figure 3: saliency maps at lambda = 1
"""),
    code("""
lam1 = 1.0 if 1.0 in s.entropy_lambdas else s.entropy_lambdas[0]
examples = ap.example_images(splits, 3)
model = ap.load_model(splits, s, "entropy", lam1, seed=0)
plots.saliency_figure(examples.cpu(), {f"entropy prior, lambda={lam1}": ap.saliency_maps(model, examples, s.gs_samples)},
                      title="Figure 3: saliency per latent unit under the entropy prior")
plt.show()
at1 = sweep[sweep.lam == lam1]
print("share of all saliency held by the most salient latent, per run:", at1.dominant_share.round(3).tolist())
"""),
    md("""
## Figure 4: test reconstruction loss against lambda
"""),
    code("""
plots.metric_boxplots(frame, ["recon_test"], title="Figure 4: entropy prior, test reconstruction loss (nats/image)")
plt.show()
numbers = ap.trends(frame)
numbers["dominant_share_lambda1"] = float(at1.dominant_share.mean())
display(pd.DataFrame({"paper": ["falls", "rises", "rises", "one latent holds almost all"],
                      "ours": [f"Spearman rho {numbers['entropy_trend']:+.2f}", f"rho {numbers['pearson_trend']:+.2f}",
                               f"rho {numbers['recon_trend']:+.2f}", f"{numbers['dominant_share_lambda1']:.2f} of saliency"]},
                     index=["entropy vs lambda", "Pearson vs lambda", "test loss vs lambda", "collapse at lambda=1"]))
"""),
    code("""
record.save({**numbers, "models": frame.to_dict("records")})
"""),
    md("""
## What differs from the paper

Trends are Spearman rank correlations between $\\lambda$ and the metric over every trained
model, the plain VAE ($\\lambda=0$) included; the paper reads them off box plots. The number
of runs per $\\lambda$, epochs, images and the images per batch the prior is estimated on are
the profile's (line above): under `cpu` far fewer than the paper's five 50-epoch runs on
60,000 images. The collapse is measured as the share
of all saliency held by the most salient latent unit (1/3 when balanced, 1 when collapsed).
"""),
])

# ---------------------------------------------------------------- 4_3
KN = ["n_train", "epochs", "pearson_lambdas", "runs_per_lambda", "prior_batch"]
write("4_3_pearson_prior", [
    md("""
# 4.3 Pearson correlation attribution prior

**The document claims** (Section 4.3): as $\\lambda$ grows both the Pearson correlation and
the entropy of latent saliency fall (Figure 5, five models per $\\lambda$); at $\\lambda=10$
the correlation is close to 0, well below that of $\\beta$-VAE and $\\beta$-TCVAE; training is
stable; test reconstruction loss *falls* with $\\lambda$ (Figure 6); the saliency maps of a
plain VAE and of the $\\lambda=10$ model look alike (Figure 7).
"""),
    params(KN),
    setup("4_3_pearson_prior", KN),
    code("""
sweep, frame = ap.prior_sweep(splits, s, "pearson", s.pearson_lambdas)
ap.summary(frame)
"""),
    md("""
## Figure 5: Pearson correlation and entropy against lambda
"""),
    code("""
plots.metric_boxplots(frame, ["pearson", "entropy"], title="Figure 5: Pearson prior")
plt.show()
"""),
    md("""
## Figure 6: test reconstruction loss against lambda
"""),
    code("""
plots.metric_boxplots(frame, ["recon_test"], title="Figure 6: Pearson prior, test reconstruction loss (nats/image)")
plt.show()
"""),
    md("""
## Figure 7: saliency maps without and with the Pearson prior (largest lambda)
"""),
    code("""
top = max(s.pearson_lambdas)
examples = ap.example_images(splits, 3)
plots.saliency_figure(examples.cpu(), {
    "(a) VAE": ap.saliency_maps(ap.load_model(splits, s, None, 0.0), examples, s.gs_samples),
    f"(b) Pearson prior, lambda={top}": ap.saliency_maps(ap.load_model(splits, s, "pearson", top), examples, s.gs_samples)},
    title="Figure 7: saliency maps per latent unit")
plt.show()
"""),
    md("""
## Against beta-VAE and beta-TCVAE

The document compares with the correlations Crabbé & van der Schaar report for disentangled
VAEs; we train both here with the same encoder, data and budget (beta = 5; beta-TCVAE with
the minibatch-weighted-sampling estimator) and measure them the same way.
"""),
    code("""
disentangled = ap.disentangled_baselines(splits, s)
top_rows = sweep[sweep.lam == top]
comparison = pd.concat([frame[frame.lam == 0], disentangled, top_rows.assign(model=f"Pearson prior, lambda={top}")])
display(comparison.groupby("model")[["pearson", "entropy", "recon_test"]].agg(["mean", "std"]).round(3))
numbers = ap.trends(frame)
numbers["pearson_at_max_lambda"] = float(top_rows.pearson.mean())
numbers["below_beta_and_tc"] = bool(top_rows.pearson.mean() < disentangled.groupby("model").pearson.mean().min())
numbers["max_dominant_share"] = float(sweep.dominant_share.max())
display(pd.DataFrame({"paper": ["falls", "falls", "close to 0", "below both", "no collapse", "falls"],
                      "ours": [f"rho {numbers['pearson_trend']:+.2f}", f"rho {numbers['entropy_trend']:+.2f}",
                               f"{numbers['pearson_at_max_lambda']:.3f}", str(numbers["below_beta_and_tc"]),
                               f"max share {numbers['max_dominant_share']:.2f}", f"rho {numbers['recon_trend']:+.2f}"]},
                     index=["Pearson vs lambda", "entropy vs lambda", f"Pearson at lambda={top}",
                            "vs beta-VAE / beta-TCVAE", "stability", "test loss vs lambda"]))
"""),
    code("""
record.save({**numbers, "models": frame.to_dict("records"), "disentangled": disentangled.to_dict("records")})
"""),
    md("""
## What differs from the paper

The paper compares with numbers from another paper (different training); we train beta-VAE
and beta-TCVAE here at the same budget, with beta = 5 (our choice: the document does not say
which beta it compares with). Budget, runs per $\\lambda$ and the images per batch the prior is
estimated on are the profile's (line above).
Trends are Spearman correlations over all models including the plain VAE at $\\lambda=0$.
"""),
])

# ---------------------------------------------------------------- 5
KN = ["n_train", "epochs", "path_entropy_lambdas", "path_pearson_lambdas", "path_runs", "prior_batch"]
write("5_gradient_paths", [
    md("""
# Two ways to train a prior: the author's gradient path and full backpropagation

In the author's code the attributions come from captum without a graph, so the prior's
gradient reaches the weights only through the factor $\\mu_j(x)$ of the saliency
$|\\mu_j(x)\\,GS_j(x)|$, never through the saliency map itself. The document's Eq. 4 suggests
training through the attributions. `repro_lib.attribution` makes Gradient SHAP
differentiable (double backpropagation, all latent units in one batched pass), so both can be
trained and compared on the same figures.
"""),
    params(KN),
    setup("5_gradient_paths", KN),
    code("""
rows = []
for prior, lambdas in (("entropy", s.path_entropy_lambdas), ("pearson", s.path_pearson_lambdas)):
    for path in ("faithful", "differentiable"):
        rows.append(ap.sweep(splits, s, prior, lambdas, s.path_runs, path=path, label=f"{prior}, {path}"))
base = ap.baseline(splits, s)
frame = pd.concat(rows + [base], ignore_index=True)
table = frame.groupby(["prior", "lam", "path"])[["pearson", "entropy", "tv", "recon_test", "train_seconds"]].mean().round(4)
table
"""),
    md("""
## The two paths on the Figure 2 and Figure 5 metrics
"""),
    code("""
fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
for ax, metric in zip(axes, ["pearson", "entropy", "recon_test"]):
    import seaborn as sns
    sns.barplot(data=frame, x="model", y=metric, ax=ax, color="#b2df8a", errorbar="sd")
    ax.tick_params(axis="x", rotation=35, labelsize=7); ax.set_xlabel("")
fig.suptitle("Author's gradient path (faithful) against full backpropagation (differentiable)")
fig.tight_layout(); plt.show()
"""),
    code("""
examples = ap.example_images(splits, 2)
maps = {}
for prior, lambdas in (("entropy", s.path_entropy_lambdas), ("pearson", s.path_pearson_lambdas)):
    for path in ("faithful", "differentiable"):
        maps[f"{prior} {lambdas[-1]}, {path}"] = ap.saliency_maps(
            ap.load_model(splits, s, prior, lambdas[-1], 0, path), examples, s.gs_samples)
plots.saliency_figure(examples.cpu(), maps, title="Saliency maps under each gradient path")
plt.show()
"""),
    code("""
summary = frame[frame.prior != "none"].groupby(["prior", "lam", "path"])[["pearson", "entropy", "recon_test", "train_seconds"]].mean()
record.save({"by_path": summary.reset_index().to_dict("records"), "models": frame.to_dict("records")})
"""),
    md("""
## Reading the comparison

The author's path optimises the prior only by rescaling the latent means, so its effect on
the maps themselves is indirect; the differentiable path can reshape the maps. Training
time per model (column `train_seconds`; 0-cost when loaded from the cache, see `cached`)
shows the price of double backpropagation; `benchmarks/bench_prior_step.py` measures it per
step. The document reports only the author's path; this comparison is ours.
"""),
])

# ---------------------------------------------------------------- 6 explorer
KN = ["n_train", "epochs"]
write("6_explorer", [
    md("""
# Explorer: saliency maps under every prior and lambda

Choose a prior and its weight; the panel shows the saliency map of each latent unit for
four test images and the model's metrics. The panels are precomputed from the models
trained in this part (loaded from the model cache), so the explorer also works in the static
book where no Python runs.
"""),
    params(KN + ["entropy_lambdas", "pearson_lambdas", "tv_lambdas", "prior_batch"]),
    setup("6_explorer", KN + ["entropy_lambdas", "pearson_lambdas", "tv_lambdas", "prior_batch"]),
    code("""
from repro_lib.widgets import image_explorer
examples = ap.example_images(splits, 4)
choices = [("none", 0.0)] + [("tv", l) for l in s.tv_lambdas] + \\
          [("entropy", l) for l in s.entropy_lambdas] + [("pearson", l) for l in s.pearson_lambdas]
frames, labels, metrics = [], [], []
for prior, lam in choices:
    model = ap.load_model(splits, s, None if prior == "none" else prior, lam)
    m = ap.measure(model, splits, s.gs_samples)
    name = "plain VAE" if prior == "none" else f"{prior} prior, lambda={lam}"
    fig = plots.saliency_figure(examples.cpu(), {name: ap.saliency_maps(model, examples, s.gs_samples)},
        title=f"{name}: Pearson {m['pearson']:.3f}, entropy {m['entropy']:.3f}, TV {m['tv']:.3g}, test loss {m['recon_test']:.1f}")
    frames.append(fig); labels.append(name); metrics.append({"model": name, **m})
    plt.close(fig)
image_explorer(frames, labels=labels, description="prior, lambda")
"""),
    code("""
pd.DataFrame(metrics).set_index("model").round(4)
"""),
    code("""
record.save({"models": metrics})
"""),
])
print("written")
