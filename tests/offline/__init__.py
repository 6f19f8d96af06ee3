"""Offline tier: real upstream tools over every rendered scenario (DESIGN §6)."""
