"""Offline tier: real upstream tools over every rendered scenario (README.md, "Quick start")."""
