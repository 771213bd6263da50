"""Per-session and shared state: caches, the current model, the user's selection, widget values kept across pages,
posteriors."""
