"""Small shared widgets: guards that stop a page, pictures, presenter mode, plain text, the drawing panel, browser
input checks."""
