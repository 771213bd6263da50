"""Figures and image files: Plotly figures, training and estimator plots, PNG grids and GIFs. No Streamlit, no files
written."""
