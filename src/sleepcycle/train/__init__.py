"""Learning in weights: a LoRA adapter on the foreground model, trained from memories, kept
only when probes show it learned without forgetting, and served on wake.

Needs the ``train`` extra (torch, transformers, peft, gguf); nothing here is imported by
``import sleepcycle``.
"""

__all__ = ["ADAPTER_GGUF", "ADAPTER_PEFT"]

# An adapter's directory (adapters/AGENT/vN under the home) holds both forms:
ADAPTER_GGUF = "adapter.gguf"  # the GGUF adapter llama.cpp and Ollama serve
ADAPTER_PEFT = "peft"  # the PEFT directory it was converted from, which vLLM serves
