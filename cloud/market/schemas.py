"""HTTP bodies of the marketplace: listings, search, purchases, refunds, payouts, reviews, seller pages.

Money is integer cents (``price_cents`` ≥ 0) in the marketplace's one currency. Text is plain
(see ``cloud.market.text``).
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
    model_validator,
)

from cloud.designs.spec import DesignSpec
from cloud.files.storage import check_key
from cloud.market.models import DESCRIPTION_MAX_CHARS, REVIEW_MAX_CHARS, TITLE_MAX_CHARS, Licence
from cloud.market.text import plain_text

MAX_PRICE_CENTS: Final = 100_000_000  # one million in the currency
MAX_PROFILE_KEYS: Final = 200
MAX_IMAGES: Final = 12
SPEC_ADAPTER: Final[TypeAdapter[Any]] = TypeAdapter(DesignSpec)

Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX_CHARS),
    AfterValidator(plain_text),
]
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=DESCRIPTION_MAX_CHARS),
    AfterValidator(plain_text),
    Field(description=f"plain text, at most {DESCRIPTION_MAX_CHARS} characters; markup is refused"),
]
MarketTag = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=32, pattern=r"^[\w .+-]+$"
    ),
]
PriceCents = Annotated[int, Field(ge=0, le=MAX_PRICE_CENTS, description="integer cents, 0 = free")]
ImageKey = Annotated[str, StringConstraints(max_length=512), AfterValidator(check_key)]


class ListingSource(BaseModel):
    """A parametric source: a design studio spec (``{family, ...params}``), validated as ``DesignSpec``."""

    model_config = ConfigDict(extra="forbid")

    design_spec: dict[str, Any] = Field(
        description="the design studio's spec, e.g. {'family': 'planter', ...}"
    )

    @field_validator("design_spec")
    @classmethod
    def _valid_spec(cls, value: dict[str, Any]) -> dict[str, Any]:
        spec = SPEC_ADAPTER.validate_python(value)
        dumped: dict[str, Any] = spec.model_dump(mode="json")
        return dumped


def _profile(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_PROFILE_KEYS:
        raise ValueError(f"at most {MAX_PROFILE_KEYS} slicer settings")
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool) and item is not None:
            raise ValueError(f"setting {key!r}: values are strings, numbers or booleans")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"setting {key!r}: numbers must be finite")
        if isinstance(item, int) and not isinstance(item, bool) and abs(item) > 2**53:
            raise ValueError(f"setting {key!r}: the number is too large")
        if isinstance(item, str):
            if len(item) > 1000:
                raise ValueError(f"setting {key!r}: at most 1000 characters")
            plain_text(item)
    return value


PrintProfile = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")], Any],
    AfterValidator(_profile),
    Field(description="slicer settings, e.g. {'layer_height_mm': 0.2, 'infill_percent': 15}"),
]


class _Terms(BaseModel):
    @model_validator(mode="after")
    def _royalty(self) -> Any:
        licence = getattr(self, "licence", None)
        royalty = getattr(self, "royalty_cents", None)
        if licence is None or royalty is None:
            return self
        if licence is Licence.PER_PRINT and royalty <= 0:
            raise ValueError("a per_print licence needs royalty_cents > 0")
        if licence is not Licence.PER_PRINT and royalty != 0:
            raise ValueError("royalty_cents is only for the per_print licence")
        return self


class ListingCreate(_Terms):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    title: Title
    description: Description = ""
    price_cents: PriceCents = 0
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, description="default: the marketplace's currency (the only one accepted)"
    )
    licence: Licence = Licence.PERSONAL
    royalty_cents: Annotated[int, Field(ge=0, le=MAX_PRICE_CENTS)] = 0
    tags: Annotated[list[MarketTag], Field(max_length=16)] = Field(default_factory=list)
    source: ListingSource | None = Field(
        default=None, description="a parametric source; or upload a file with PUT .../file"
    )
    print_profile: PrintProfile = Field(default_factory=dict)
    images: Annotated[list[ImageKey], Field(max_length=MAX_IMAGES)] = Field(default_factory=list)


class ListingUpdate(_Terms):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    title: Title | None = None
    description: Description | None = None
    price_cents: PriceCents | None = None
    licence: Licence | None = None
    royalty_cents: Annotated[int, Field(ge=0, le=MAX_PRICE_CENTS)] | None = None
    tags: Annotated[list[MarketTag], Field(max_length=16)] | None = None
    print_profile: PrintProfile | None = None
    images: Annotated[list[ImageKey], Field(max_length=MAX_IMAGES)] | None = None
    withdrawn: bool | None = Field(default=None, description="true hides it from search (buyers keep it)")


class ListingFile(BaseModel):
    name: str
    kind: str = Field(description="gcode | mesh")
    size_bytes: int
    sha256: str


class ListingOut(BaseModel):
    id: str
    seller_org_id: str
    seller_name: str | None = None
    title: str
    description: str
    price_cents: int
    currency: str
    free: bool
    licence: Licence
    royalty_cents: int
    tags: list[str]
    file: ListingFile | None
    design_spec: dict[str, Any] | None
    print_profile: dict[str, Any]
    images: list[str]
    status: str
    rating: float | None = Field(description="average of 1-5 stars, None before any review")
    rating_count: int
    sales_count: int
    created_at: datetime
    updated_at: datetime
    entitled: bool | None = Field(default=None, description="the caller may download and print it")


class SortOrder(StrEnum):
    RELEVANCE = "relevance"
    NEWEST = "newest"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    RATING = "rating"


class ListingPage(BaseModel):
    items: list[ListingOut]
    total: int


class PurchaseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_token: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.-]+$")] | None = (
        Field(default=None, description="the payment provider's card token; not needed for a free listing")
    )


class PurchaseOut(BaseModel):
    id: str
    listing_id: str
    buyer_org_id: str
    seller_org_id: str
    price_cents: int
    fee_cents: int
    currency: str
    status: str
    payment_id: str | None
    provider_status: str | None
    created_at: datetime
    refunded_at: datetime | None


class PayoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_cents: Annotated[int, Field(gt=0, le=MAX_PRICE_CENTS)]


class PayoutOut(BaseModel):
    id: str
    amount_cents: int
    currency: str
    balance_cents: int = Field(description="the seller balance after the payout")
    created_at: datetime


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rating: Annotated[int, Field(ge=1, le=5)]
    text: Annotated[str, StringConstraints(max_length=REVIEW_MAX_CHARS)] = Field(
        default="", description="plain text; markup is stripped"
    )


class ReviewOut(BaseModel):
    id: str
    listing_id: str
    org_id: str
    rating: int
    text: str
    created_at: datetime
    updated_at: datetime


class PrintRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    printer_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")] | None = (
        Field(default=None, description="a printer of yours: the job then needs its material and nozzle")
    )


class PrintOut(BaseModel):
    job_id: str
    listing_id: str
    state: str


class Revenue(BaseModel):
    """The seller's share (after the platform fee) of its sales and royalties, and where it went."""

    gross_cents: int = Field(description="its share of sales and royalties, after fees, before refunds")
    refunded_cents: int = Field(description="taken back from its balance by refunds")
    paid_out_cents: int
    balance_cents: int = Field(description="what can be paid out now")


class SellerPage(BaseModel):
    org_id: str
    name: str
    listings: list[ListingOut]
    sales_count: int
    rating: float | None
    rating_count: int
    revenue: Revenue | None = Field(description="only for the seller itself")
