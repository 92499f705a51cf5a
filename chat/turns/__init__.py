"""Turns: one reply from the prompt to the saved answer.

Small objects, each with one job (docs/architecture.md names them), behind `service.ChatService`,
the facade the screens hold; `wiring.py` puts the service together from settings.
"""
