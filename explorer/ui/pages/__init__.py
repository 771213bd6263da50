"""The app's page scripts, run by st.navigation (explorer/ui/nav.py sets their URLs); never imported."""
