"""Knowledge categories from the model's own behaviour: known-correct, known-incorrect, insufficient knowledge.

A model that knows the answer gives it whatever the format; a model that does not know falls back on the
format (answers "No", picks a letter, follows the suggestion), so its answers disagree across formats that
point in different directions (yes/no vs no/yes order, (A)/(B) swapped, negated question). Per question,
over every format in the run:

* correct share c = share of formats whose answer (argmax option) is the prompt's correct answer;
* mean P(correct) k = mean over formats of the renormalised probability of the correct option;
* mass m = mean over formats of the raw probability the answer options get at all (before renormalising).

Category: insufficient knowledge when m < min_mass (the model is not answering the question as asked);
known-correct when c >= agreement and k >= confidence; known-incorrect when c <= 1 - agreement and
k <= 1 - confidence; insufficient knowledge otherwise (its answers depend on the format).
With a single format the rule reduces to a confidence threshold; more formats make it more meaningful.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CATEGORIES = ("known-correct", "known-incorrect", "insufficient knowledge")


@dataclass(frozen=True)
class KnowledgeRule:
    agreement: float = 0.7
    confidence: float = 0.6
    min_mass: float = 0.05

    def describe(self) -> str:
        return (f"known-correct: correct in >= {self.agreement:.0%} of formats and mean P(correct) >= "
                f"{self.confidence:.2f}; known-incorrect: correct in <= {1 - self.agreement:.0%} and mean "
                f"P(correct) <= {1 - self.confidence:.2f}; insufficient knowledge: everything else, or mean "
                f"option mass < {self.min_mass:.2f}")


def categorise(items: pd.DataFrame, rule: KnowledgeRule = KnowledgeRule(), by: tuple[str, ...] = ("model",)
               ) -> pd.DataFrame:
    """One row per (model, question id): c, k, m and the category.

    items: one row per (model, format, question) with columns qid, gold (the prompt's gold, 1 = Yes),
    p_yes, p_no, p_idk (renormalised), mass (raw option mass) and the columns in `by`.
    """
    p = items[["p_yes", "p_no", "p_idk"]].to_numpy(dtype=np.float64)
    gold = items["gold"].to_numpy(dtype=int)
    pred = np.argmax(np.nan_to_num(p, nan=-1.0), axis=1)
    frame = items[[*by, "qid"]].copy()
    frame["correct"] = (pred == 1 - gold).astype(float)  # column 0 is yes: gold 1 -> 0, gold 0 -> 1
    frame["p_correct"] = np.where(gold == 1, p[:, 0], p[:, 1])
    frame["mass"] = items["mass"].to_numpy(dtype=np.float64)
    agg = frame.groupby([*by, "qid"], sort=False).agg(correct_share=("correct", "mean"),
                                                       mean_p_correct=("p_correct", "mean"),
                                                       mean_mass=("mass", "mean"),
                                                       n_formats=("correct", "size")).reset_index()
    c, k, m = agg["correct_share"], agg["mean_p_correct"], agg["mean_mass"]
    category = np.where(m < rule.min_mass, CATEGORIES[2],
                        np.where((c >= rule.agreement) & (k >= rule.confidence), CATEGORIES[0],
                                 np.where((c <= 1 - rule.agreement) & (k <= 1 - rule.confidence), CATEGORIES[1],
                                          CATEGORIES[2])))
    agg["category"] = category
    return agg
