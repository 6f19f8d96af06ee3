"""What gets installed: pure renderers from (release profile, topology facts) to ordered steps. No I/O."""
