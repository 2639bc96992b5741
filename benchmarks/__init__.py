"""Speed benchmarks: ours vs a plain reference, each with a correctness gate."""
