"""Latent geometry: paths and grids, the map's fit and projections, neighbours, attribute vectors, mixtures, slider
bases."""
