"""The listing form of the pages: raw text in, typed values out, the raw text kept for re-display."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.datastructures import FormData, UploadFile

from marketplace.errors import InvalidInput
from marketplace.listings.models import DescriptionFormat
from marketplace.listings.services import STOCK_MAX, Upload
from marketplace.monero.amounts import parse_xmr

_MAX_NUMBER_TEXT = 32


def form_text(form: FormData, name: str) -> str:
    """A text field's value; a file sent where text belongs counts as empty."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


@dataclass
class ListingForm:
    """What the vendor typed, exactly, so the form can be shown again after a refusal."""

    title: str = ""
    description: str = ""
    description_format: str = DescriptionFormat.PLAIN.value
    price: str = ""
    stock: str = "1"
    category: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_form(cls, form: FormData) -> ListingForm:
        return cls(
            title=form_text(form, "title"),
            description=form_text(form, "description"),
            description_format=form_text(form, "description_format") or DescriptionFormat.PLAIN.value,
            price=form_text(form, "price"),
            stock=form_text(form, "stock"),
            category=form_text(form, "category"),
        )

    def price_atomic(self) -> int:
        """The price in piconero, parsed from XMR text; raises ``InvalidInput`` (field ``price``)."""
        if not self.price.strip():
            raise InvalidInput("Enter the price in XMR, for example 0.25.", field="price")
        if len(self.price) > _MAX_NUMBER_TEXT:
            raise InvalidInput("Enter the price in XMR as a number, for example 0.25.", field="price")
        return parse_xmr(self.price, field="price")

    def stock_count(self) -> int:
        text = self.stock.strip()
        if not text or len(text) > _MAX_NUMBER_TEXT or not text.isascii() or not text.isdigit():
            raise InvalidInput(f"The stock is a whole number from 0 to {STOCK_MAX:,}.", field="stock")
        return int(text)


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
