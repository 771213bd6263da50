"""The Latent map's widgets: the in-page canvas, the Plotly view, its 3-D view, projector tools, the chosen point's
panel."""
