"""Audio → features: log-mel spectrograms and per-clip summary statistics."""
