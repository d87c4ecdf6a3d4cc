"""`python -m bot` is the `studybot` command."""

import sys

from bot.cli import main

sys.exit(main())
