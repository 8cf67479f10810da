"""Subcommands of the ``whalewire`` CLI, one module each (see ``whalewire.cli``)."""
