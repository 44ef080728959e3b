import sys

from acutance.cli.main import main

sys.exit(main())
