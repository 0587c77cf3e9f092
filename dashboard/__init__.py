"""The Saliency Lab Streamlit dashboard (entrypoint: ``dashboard/app.py``)."""
