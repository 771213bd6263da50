"""The model in the page: the payload packer (payload.py) beside the JavaScript that reads it (ES modules *.js, the
host adapters in streamlit/, bundled into one module by bundle.py; the shared numbers in codes.js, from codes.py)."""
