"""chute's console (Textual) and the `chute` command line. Depends on engine, never the reverse."""
