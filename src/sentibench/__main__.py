"""`python -m sentibench` runs the command line, for machines where the script is not on PATH."""

from sentibench.cli import main

main()
