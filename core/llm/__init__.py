"""Language-model side of the app: one adapter over transformers causal LMs, shared by the bias and refusal pages."""
