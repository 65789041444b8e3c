"""``python -m mirage_bayes.cli``: the ``mirage-bayes`` command."""

import sys

from mirage_bayes.cli.app import main

sys.exit(main())
