"""Every table of the cloud, imported in one place so ``Base.metadata`` is complete (for Alembic).

A resource that adds tables imports its models module here and adds an Alembic revision.
"""

from cloud.collab import models as collab_models  # noqa: F401 - registers the collab tables
from cloud.db.base import Base
from cloud.designs import models as designs_models  # noqa: F401 - registers the design studio tables
from cloud.fleet import models as fleet_models  # noqa: F401 - registers the fleet tables
from cloud.jobs import models as jobs_models  # noqa: F401 - registers the jobs tables
from cloud.market import models as market_models  # noqa: F401 - registers the marketplace tables
from cloud.notify import models as notify_models  # noqa: F401 - registers the notify tables
from cloud.printers.models import ClaimCode, Printer
from cloud.users.models import ApiKey, Organisation, User

metadata = Base.metadata

__all__ = ["ApiKey", "ClaimCode", "Organisation", "Printer", "User", "metadata"]
