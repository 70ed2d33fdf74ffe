"""Retrieval negatives: datasets, embeddings, indexes, mining strategies, false-negative scoring, export."""
