"""The ``nnlab`` command line: one small module per command."""
