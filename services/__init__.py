"""socklab: the socket-programming lab's programs. Run them with ``python3 -m services NAME``."""
