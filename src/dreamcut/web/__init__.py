"""`dreamcut review`: the review board, a local web app over one project's catalog.

`create_app(project_root)` builds the FastAPI app; `serve(...)` runs it with uvicorn.
The board serves only the project's own data: media paths are resolved and checked to
lie inside the project folder, and nothing else on the machine is reachable through it.
"""

from dreamcut.web.app import create_app, serve

__all__ = ["create_app", "serve"]
