"""TCP calculator: a client names itself, then sends ``12 + 42`` and gets ``54`` (see protocol.py)."""
