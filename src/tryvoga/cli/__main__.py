"""``python -m tryvoga.cli``: the ``tryvoga`` command."""

from tryvoga.cli.main import main

main()
