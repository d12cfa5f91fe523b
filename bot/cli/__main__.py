"""``python -m bot.cli``: what the ``paminn`` script runs."""
from bot.cli import main

raise SystemExit(main())
