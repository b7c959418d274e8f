"""``python -m tradewarden``."""

from tradewarden.cli import main

main()
