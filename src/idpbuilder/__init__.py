"""idpbuilder: an Internal Developer Platform in one Python process."""

__version__ = "0.1.0"
