"""Learning in weights: a LoRA adapter on the foreground model, trained from memories, kept
only when probes show it learned without forgetting, and served on wake.

Needs the ``train`` extra (torch, transformers, peft, gguf); nothing here is imported by
``import sleepcycle``.
"""
