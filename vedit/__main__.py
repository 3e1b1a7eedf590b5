"""`python -m vedit` runs the command line."""
from vedit.cli import main

main()
