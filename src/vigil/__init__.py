"""Vigil: self-hosted vision for security cameras."""

__version__ = "0.1.0"
