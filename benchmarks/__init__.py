"""socklab's benchmark: every server measured side by side with real peers, on loopback.

``python3 -m benchmarks`` (or ``scripts/lab bench``) runs it; ``--smoke`` runs every
scenario briefly. See docs/performance.md for what it measures and the latest results.
"""
