"""Watching the models in use: input drift against the model card's reference, shadow agreement, metrics."""
