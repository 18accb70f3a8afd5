"""``python -m benchmarks [--quick]``."""
from benchmarks.runner import main

raise SystemExit(main())
