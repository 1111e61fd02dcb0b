"""``python -m nnlab``: the same command line as the ``nnlab`` script."""

from nnlab.cli.main import main

if __name__ == "__main__":
    main()
