"""Reports of a trading session: what each symbol consumed and the end-of-run summary."""
