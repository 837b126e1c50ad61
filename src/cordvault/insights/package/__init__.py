"""Reading a Discord Data Package straight from its zip: safety checks, section detection,
and streaming parsers for each file kind. Nothing is ever extracted to disk."""
