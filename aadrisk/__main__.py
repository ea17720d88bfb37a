"""``python -m aadrisk``: the command line interface."""
from .cli import app

app()
