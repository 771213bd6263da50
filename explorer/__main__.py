"""python -m explorer ... (and torchrun -m explorer train ...)."""
from .cli import exit_process, main

exit_process(main())
