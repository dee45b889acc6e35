"""Helpers every handler shares: structured logs, batch responses, JSON, settings, retries."""
