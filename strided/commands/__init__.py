"""One module per ``strided`` sub-command: ``add_arguments(parser)`` and ``run(args)``."""
