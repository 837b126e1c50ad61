"""HTTP adapter: one FastAPI app; each domain installs its routes through :mod:`.app`."""
