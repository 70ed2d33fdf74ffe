"""Refusals: prompt sets, refusal detection (phrases, probability score, judge), runs, and the refusal direction."""
