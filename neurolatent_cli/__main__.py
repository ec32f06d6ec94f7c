"""``python -m neurolatent_cli``: the ``neurolatent`` command."""
import sys

from . import main

sys.exit(main())
