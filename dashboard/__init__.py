"""The Saliency Lab Streamlit dashboard (served by ``dashboard/server.py``; the app's script: ``dashboard/app.py``)."""
