"""Imports every domain's models so that ``Base.metadata`` holds the whole schema."""

from marketplace.accounts import models as accounts_models
from marketplace.admin import models as admin_models
from marketplace.db.base import Base
from marketplace.jobs import models as jobs_models
from marketplace.listings import models as listings_models
from marketplace.messages import models as messages_models
from marketplace.notifications import models as notifications_models
from marketplace.orders import models as orders_models
from marketplace.reviews import models as reviews_models

__all__ = [
    "Base",
    "accounts_models",
    "admin_models",
    "jobs_models",
    "listings_models",
    "messages_models",
    "notifications_models",
    "orders_models",
    "reviews_models",
]
