"""What an operator reads of a running session: traces, structured logs, live performance."""
