"""The model: its config, networks, distributions, objectives (ELBO terms), encodings, and where it runs (devices,
seeds)."""
