"""Sub-commands of the ``lipread`` command line, one module each (see :mod:`lipread.cli`)."""
