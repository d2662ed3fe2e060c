"""The portal's server-rendered web UI (`ui_app`), mounted at `/portal`."""

from .app import load_ui_secret, ui_app

__all__ = ["load_ui_secret", "ui_app"]
