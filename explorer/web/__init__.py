"""The model in the page: the payload packer (payload.py) beside the JavaScript that reads it (*.js, read by
sources.py)."""
