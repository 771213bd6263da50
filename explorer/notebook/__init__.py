"""The explorer in a notebook: explorer.widget(model) returns an anywidget (widget.py) that runs the map, the
decoder sliders and the drawing pad in the page, on the same JavaScript core as the app; what it is sent is made
in prepare.py. Imports no Streamlit; anywidget is imported only when a widget is made."""
