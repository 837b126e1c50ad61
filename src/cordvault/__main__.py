"""``python -m cordvault`` runs the CLI."""

from cordvault.cli.app import main

main()
