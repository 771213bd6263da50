"""python -m explorer ... (and torchrun -m explorer train ...)."""
import sys

from .cli import main

sys.exit(main())
