"""The implementation of ``scripts/lab VERB``: one module per verb, each with ``main(argv) -> int``."""
