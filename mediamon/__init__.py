"""The `mediamon` command line: one module per command group, imported lazily."""
