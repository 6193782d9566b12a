"""``python -m wakeful`` runs the command line."""

from .cli import main

main()
