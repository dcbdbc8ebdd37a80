"""coupadl: download the attachments of Coupa purchase orders with several signed-in browser windows."""

__all__ = ["__version__"]

__version__ = "0.1.0"
