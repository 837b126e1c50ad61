"""Command-line adapter: parses options, builds settings once, calls services."""
