"""opro: optimize LLM prompts with OPRO (Optimization by PROmpting, Yang et al. 2023)."""

__version__ = "0.1.0"
