"""``python -m cloud``: run the cloud service (see ``cloud.cli``)."""

import sys

from cloud.cli import main

sys.exit(main())
