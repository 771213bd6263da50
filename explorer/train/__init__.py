"""Training: the loop and its callbacks, its settings and loss terms, history, finiteness guards, DDP, what a run
records."""
