"""Metrics more than one part can use: clustering scores (`clustering`)."""
from .clustering import adjusted_rand_index, cluster_accuracy, contingency, normalized_mutual_info

__all__ = ["adjusted_rand_index", "cluster_accuracy", "contingency", "normalized_mutual_info"]
