"""``python -m aadrisk.cli``: the command line interface."""
from . import app

app()
