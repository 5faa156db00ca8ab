"""The HTTP inference service (FastAPI + uvicorn) and its web page; needs the `serve` extra.

``strided.serve.app.create_app`` builds the app; ``strided.serve.server.serve`` runs it.
"""
