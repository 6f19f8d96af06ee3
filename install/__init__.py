"""Carrying out a rendered plan: the installer, hostname publishing, samples, snapshot, probe."""
