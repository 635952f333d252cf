"""The listing form of the pages: raw text in, typed values out, the raw text kept for re-display."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile

from marketplace.errors import InvalidInput
from marketplace.listings.models import DescriptionFormat, Listing
from marketplace.listings.services import STOCK_MAX, ListingFields, Upload
from marketplace.monero.amounts import FORM_MESSAGE, format_xmr, parse_xmr
from marketplace.web.numbers import parse_count
from marketplace.web.pages import form_text

_MAX_NUMBER_TEXT = 32


@dataclass
class ListingForm:
    """What the vendor typed, exactly, so the form can be shown again after a refusal."""

    title: str = ""
    description: str = ""
    description_format: str = DescriptionFormat.PLAIN.value
    price: str = ""
    stock: str = "1"
    category: str = ""
    ships_physical: bool = False

    @classmethod
    def from_form(cls, form: FormData) -> ListingForm:
        return cls(
            title=form_text(form, "title"),
            description=form_text(form, "description"),
            description_format=form_text(form, "description_format") or DescriptionFormat.PLAIN.value,
            price=form_text(form, "price"),
            stock=form_text(form, "stock"),
            category=form_text(form, "category"),
            ships_physical=form_text(form, "ships_physical") == "yes",
        )

    @classmethod
    def of(cls, listing: Listing) -> ListingForm:
        """The form filled with what ``listing`` holds now."""
        return cls(
            title=listing.title,
            description=listing.description,
            description_format=listing.description_format,
            price=format_xmr(listing.price_atomic),
            stock=str(listing.stock),
            category=listing.category,
            ships_physical=listing.ships_physical,
        )

    def fields(self) -> ListingFields:
        """The typed fields for the services; raises ``InvalidInput`` (``price`` or ``stock``) for bad numbers."""
        return ListingFields(
            title=self.title,
            description=self.description,
            description_format=self.description_format,
            price_atomic=self.price_atomic(),
            stock=self.stock_count(),
            category=self.category,
            ships_physical=self.ships_physical,
        )

    def price_atomic(self) -> int:
        """The price in piconero, parsed from XMR text; raises ``InvalidInput`` (field ``price``)."""
        if not self.price.strip():
            raise InvalidInput("Enter the price in XMR, for example 0.25.", field="price")
        if len(self.price) > _MAX_NUMBER_TEXT:
            raise InvalidInput(FORM_MESSAGE, field="price")
        return parse_xmr(self.price, field="price")

    def stock_count(self) -> int:
        """The stock as typed; raises ``InvalidInput`` (field ``stock``) unless a whole number in its range."""
        message = f"The stock is a whole number from 0 to {STOCK_MAX:,}."
        return parse_count(self.stock, field="stock", minimum=0, maximum=STOCK_MAX, message=message)


async def uploaded_files(form: FormData, name: str, max_bytes: int) -> list[Upload]:
    """The files chosen in the file input ``name``; an input left empty sends none.

    Reads at most ``max_bytes + 1`` bytes of each: enough to tell that one is too large.
    """
    uploads = []
    for item in form.getlist(name):
        if not isinstance(item, UploadFile):
            continue
        content = await item.read(max_bytes + 1)
        if not item.filename and not content:
            continue  # the browser's placeholder for "no file chosen"
        uploads.append(Upload(filename=item.filename or "", content=content))
    return uploads
