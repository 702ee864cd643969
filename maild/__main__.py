"""Entry point for ``python -m maild``."""

from __future__ import annotations

from maild.cli import main

if __name__ == "__main__":
    main()
