"""Cairn: an xAPI LRS, an LTI 1.3 tool and learning pathways in one Flask app."""
from cairn.app import create_app

__all__ = ["create_app"]
