"""`python -m tokenomy.cli`."""

from tokenomy.cli import main

main()
