"""Self-tests of the suite: run anywhere, no clusters, no Docker."""
