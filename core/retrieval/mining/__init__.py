"""Negative mining strategies: one per file, each a frozen dataclass with `.mine(MiningInputs) -> DataFrame`."""

from core.retrieval.mining.base import COLUMNS, Candidates, MiningInputs, Strategy
from core.retrieval.mining.bm25_negatives import BM25Negatives
from core.retrieval.mining.dense_top import DenseTopK
from core.retrieval.mining.ensemble import EnsembleNegatives
from core.retrieval.mining.margin import MarginFiltered
from core.retrieval.mining.random_negatives import RandomNegatives
from core.retrieval.mining.simans import SimANS

STRATEGIES = {"random": RandomNegatives, "bm25": BM25Negatives, "dense_top": DenseTopK,
              "margin": MarginFiltered, "simans": SimANS, "ensemble": EnsembleNegatives}

__all__ = ["COLUMNS", "STRATEGIES", "BM25Negatives", "Candidates", "DenseTopK", "EnsembleNegatives",
           "MarginFiltered", "MiningInputs", "RandomNegatives", "SimANS", "Strategy"]
