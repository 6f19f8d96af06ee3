"""Running external programs: the one command runner, redaction, tool resolution, the one wait primitive."""
