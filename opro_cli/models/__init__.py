"""Model access: the client seam (``base``), its litellm implementation and custom providers."""
