"""``python -m wakeful``: the same command as the ``wakeful`` entry point."""

from .cli import main

if __name__ == "__main__":
    main()
