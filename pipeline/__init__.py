"""Model Release Pipeline: GitOps for publishing machine-learning models."""

__version__ = "0.1.0"
