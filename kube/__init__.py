"""Kubernetes objects as plain data: pure helpers that install/, clusters/ and suites/ share."""
