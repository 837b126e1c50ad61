"""Package jobs: the table, its state machine, queue positions and the submission service."""
