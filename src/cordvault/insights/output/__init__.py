"""Writing the analysis result (the SQLite file the client reads)."""
