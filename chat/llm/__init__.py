"""The model: the OpenAI-compatible client and the offline demo model, one streaming interface."""
