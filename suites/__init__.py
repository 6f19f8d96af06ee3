"""The conformance checks users run against clusters."""
