"""Metrics: saliency separation (total variation, attribution entropy, Pearson correlation of latent saliency maps)."""
