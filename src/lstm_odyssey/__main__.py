"""`python -m lstm_odyssey`: see `lstm_odyssey.cli`."""

import sys

from lstm_odyssey.cli import main

sys.exit(main())
