"""``python -m gongjian`` runs the command line."""

from gongjian.cli import app

app()
