"""`python -m registry`: the same as the `registry` command."""

from registry.launch import main

main()
