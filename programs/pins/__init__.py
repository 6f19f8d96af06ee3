"""``python -m programs.pins check|update``: keep versions.yaml's pins current with upstream.

It reads the upstream release data (GitHub releases of istio/istio and of each pinned tool,
istio.io's support announcements, the Sail Operator's Helm index and chart, checksum files and
the Go checksum database), reports every stale, end-of-life or unverifiable pin with its source,
and (``update``) rewrites versions.yaml with what it could verify, keeping its comments. See
programs/pins/__main__.py for the command line.
"""
