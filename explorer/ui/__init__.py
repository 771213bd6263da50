"""Streamlit pages and widgets of VAE Explorer: the only package (with streamlit_app.py) that imports streamlit."""
