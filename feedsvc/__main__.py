import sys

from feedsvc.cli.main import main

sys.exit(main())
