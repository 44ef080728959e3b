"""Command-line interface: ``acutance COMMAND ...``; one module per command."""
