"""The shapes world: a synthetic scene generator, an exact checker and an embedded toy text-to-image model.

Submodules are imported on demand (torch and transformers are only needed by model/text_encoder/sample/train).
"""
