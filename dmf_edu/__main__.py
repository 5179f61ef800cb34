"""``python -m dmf_edu`` is the ``dmf-edu`` command."""

import sys

from .cli import main

sys.exit(main())
