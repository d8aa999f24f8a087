"""Chat room: many members over TCP, every line relayed to the others (protocol in protocol.py)."""
