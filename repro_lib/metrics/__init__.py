"""Metrics more than one part can use: clustering scores (`clustering`) and the Frechet
distance behind FID/FVD (`frechet`)."""
from .clustering import adjusted_rand_index, cluster_accuracy, contingency, normalized_mutual_info
from .frechet import frechet_distance, frechet_from_features

__all__ = ["adjusted_rand_index", "cluster_accuracy", "contingency", "frechet_distance", "frechet_from_features",
           "normalized_mutual_info"]
