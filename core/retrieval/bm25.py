"""BM25 candidates with bm25s (lexical retriever used by the BM25 and ensemble strategies and as a signal)."""

from __future__ import annotations

import numpy as np

from core.retrieval.candidates import Candidates

# why: bm25s' English list keeps question words, so "what is a bank" would match every gloss containing "what"
QUESTION_WORDS = ["what", "which", "who", "whom", "whose", "where", "when", "why", "how", "does", "mean", "meaning"]


def _stopwords() -> list[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return sorted(set(STOPWORDS_EN) | set(QUESTION_WORDS))


def bm25_candidates(query_texts: list[str], doc_texts: list[str], k: int) -> Candidates:
    """Top-k BM25 (Lucene variant, English stopwords) per query; rows with fewer hits are padded with -1."""
    import bm25s

    n_docs = len(doc_texts)
    kk = max(1, min(k, n_docs))
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(doc_texts, stopwords=_stopwords(), show_progress=False), show_progress=False)
    vocab = retriever.vocab_dict
    # why: query tokens the corpus never saw carry no BM25 weight; dropping them avoids bm25s' unknown-token path
    q_tokens = [[t for t in toks if t in vocab] for toks in
                bm25s.tokenize(query_texts, stopwords=_stopwords(), return_ids=False, show_progress=False)]
    indices = np.full((len(query_texts), k), -1, dtype=np.int64)
    scores = np.full((len(query_texts), k), -np.inf, dtype=np.float32)
    nonempty = [i for i, t in enumerate(q_tokens) if t]
    if nonempty:
        res, sc = retriever.retrieve([q_tokens[i] for i in nonempty], k=kk, show_progress=False, n_threads=1)
        res, sc = np.asarray(res, dtype=np.int64), np.asarray(sc, dtype=np.float32)
        res[sc <= 0] = -1
        sc[sc <= 0] = -np.inf
        indices[nonempty, :kk] = res
        scores[nonempty, :kk] = sc
    return Candidates(scores, indices, exact=True)
