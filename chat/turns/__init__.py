"""Turns: one reply from the prompt to the saved answer.

The chat service for now (its worker and watchdog threads, model quirks, cost, the final save),
and how the service is put together from settings.
"""
