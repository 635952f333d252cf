"""The demo vendor's shop: 36 listings across every category, some described in Markdown."""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.listings.models import DescriptionFormat
from marketplace.monero.amounts import parse_xmr


@dataclass(frozen=True)
class DemoListing:
    title: str
    category: str
    price: str  # XMR as a person writes it; stored as integer piconero
    stock: int
    description: str
    markdown: bool = False
    images: int = 1

    @property
    def price_atomic(self) -> int:
        return parse_xmr(self.price)

    @property
    def ships_physical(self) -> bool:
        """Everything but digital goods and services is posted: the buy form asks where to."""
        return self.category not in ("digital", "services")

    @property
    def description_format(self) -> str:
        return (DescriptionFormat.MARKDOWN if self.markdown else DescriptionFormat.PLAIN).value


def _md(*lines: str) -> str:
    return "\n".join(lines)


CATALOGUE: tuple[DemoListing, ...] = (
    # digital
    DemoListing(
        "Privacy-first e-mail setup guide (PDF)",
        "digital",
        "0.05",
        999,
        _md(
            "A 40-page guide to running your own mail with **Postfix**, **Dovecot** and **rspamd**.",
            "",
            "- DNS records explained (SPF, DKIM, DMARC)",
            "- Backups and restores",
            "- A checklist for every upgrade",
        ),
        markdown=True,
        images=2,
    ),
    DemoListing(
        "Ambient synth sample pack",
        "digital",
        "0.12",
        500,
        "120 royalty-free loops and one-shots, 24-bit WAV, recorded on analogue synths.",
        images=1,
    ),
    DemoListing(
        "Vector icon set: 300 line icons",
        "digital",
        "0.08",
        999,
        _md(
            "Clean **2 px stroke** icons in SVG and PNG.",
            "",
            "Includes a Figma file and an icon font.",
        ),
        markdown=True,
        images=3,
    ),
    DemoListing(
        "Self-hosting cheat sheets bundle",
        "digital",
        "0.03",
        999,
        "Printable one-page references for nginx, systemd, SSH, tmux and Git.",
        images=1,
    ),
    DemoListing(
        "Lightroom presets: northern light",
        "digital",
        "0.04",
        999,
        "Twelve presets for cold, quiet landscapes. Works in Lightroom Classic and mobile.",
        images=2,
    ),
    # books
    DemoListing(
        "Mastering Monero (paperback, used)",
        "books",
        "0.35",
        2,
        _md(
            "A classic introduction to Monero's privacy technology.",
            "",
            "*Condition:* very good, a few pencil notes in chapter 4.",
        ),
        markdown=True,
        images=2,
    ),
    DemoListing(
        "The Cypherpunk Reader, first edition",
        "books",
        "1.2",
        1,
        "Essays and mailing-list posts from the 1990s. Hardcover, dust jacket slightly worn.",
        images=2,
    ),
    DemoListing(
        "Hand-bound dot-grid notebook, A5",
        "books",
        "0.09",
        14,
        _md(
            "Sewn binding that lies flat, 160 pages of 100 g/m² paper.",
            "",
            "1. Pick your cover colour in the order notes",
            "2. Ships in a padded envelope",
        ),
        markdown=True,
        images=3,
    ),
    DemoListing(
        "Science fiction bundle: 5 paperbacks",
        "books",
        "0.4",
        3,
        "Five well-loved paperbacks from classic authors. Titles listed in the photos.",
        images=1,
    ),
    DemoListing(
        "Sourdough baking notebook",
        "books",
        "0.06",
        20,
        "A printed workbook with recipes, a starter log and hydration tables.",
        images=1,
    ),
    # electronics
    DemoListing(
        "Refurbished ThinkPad X230 with coreboot",
        "electronics",
        "2.8",
        2,
        _md(
            "## Specs",
            "",
            "- i5-3320M, 16 GB RAM, 500 GB SSD",
            "- **coreboot** with SeaBIOS, ME neutralised",
            "- New keyboard and battery",
            "",
            "Ships with Debian installed; wipe it if you like.",
        ),
        markdown=True,
        images=3,
    ),
    DemoListing(
        "Hardware wallet, sealed",
        "electronics",
        "0.75",
        6,
        "Factory-sealed hardware wallet with Monero support. Check the seal on arrival.",
        images=2,
    ),
    DemoListing(
        "Raspberry Pi 4 node kit",
        "electronics",
        "0.9",
        4,
        _md(
            "Everything to run a **Monero node** at home:",
            "",
            "- Pi 4 (8 GB), case with fan",
            "- 1 TB SSD and USB adapter",
            "- Power supply",
            "",
            "*Blockchain not included: it syncs on first start.*",
        ),
        markdown=True,
        images=2,
    ),
    DemoListing(
        "USB data blocker (pack of 3)",
        "electronics",
        "0.02",
        40,
        "Charge from public USB ports without a data connection.",
        images=1,
    ),
    DemoListing(
        "Mechanical keyboard, 60 %, brown switches",
        "electronics",
        "0.55",
        3,
        "Hot-swappable switches, PBT keycaps, USB-C cable included.",
        images=2,
    ),
    # clothing
    DemoListing(
        "Monero logo hoodie",
        "clothing",
        "0.3",
        25,
        _md(
            "Heavy cotton hoodie with an embroidered logo.",
            "",
            "Sizes **S–XXL**; write your size in the order notes.",
        ),
        markdown=True,
        images=2,
    ),
    DemoListing(
        "Merino wool beanie", "clothing", "0.1", 30, "Soft, warm, and it does not itch. Charcoal grey.", images=1
    ),
    DemoListing(
        "Waxed canvas tote bag",
        "clothing",
        "0.18",
        12,
        "Water-resistant, leather handles, an inside pocket for keys.",
        images=2,
    ),
    DemoListing(
        "Hand-knitted wool socks",
        "clothing",
        "0.07",
        18,
        "Knitted to order in sizes 36–46. Allow a week before shipping.",
        images=1,
    ),
    # home
    DemoListing(
        "Cast-iron skillet, 26 cm",
        "home",
        "0.22",
        7,
        "Pre-seasoned and ready for the stove, the oven or a campfire.",
        images=2,
    ),
    DemoListing(
        "Beeswax candles, set of 4",
        "home",
        "0.05",
        22,
        _md(
            "Pure **beeswax**, cotton wicks, about 20 hours each.",
            "",
            "> They smell faintly of honey.",
        ),
        markdown=True,
        images=1,
    ),
    DemoListing(
        "Heirloom tomato seed collection",
        "home",
        "0.03",
        60,
        "Ten varieties, about 20 seeds each, from this year's harvest.",
        images=2,
    ),
    DemoListing(
        "Handmade ceramic mug", "home", "0.06", 10, "Stoneware, 350 ml, glazed in deep blue. Dishwasher safe.", images=3
    ),
    # art
    DemoListing(
        "Original watercolour: harbour at dawn",
        "art",
        "1.5",
        1,
        _md(
            "One-of-a-kind painting, **30 × 40 cm**, on cotton paper.",
            "",
            "Signed on the back. Ships flat, unframed.",
        ),
        markdown=True,
        images=2,
    ),
    DemoListing(
        "Linocut print, limited to 50",
        "art",
        "0.25",
        9,
        "Hand-printed on Japanese paper, numbered and signed.",
        images=2,
    ),
    DemoListing(
        "Pixel-art portrait commission",
        "art",
        "0.2",
        5,
        _md(
            "Send a photo and I draw you in **32 × 32** pixels.",
            "",
            "- Delivered as PNG at 4 sizes",
            "- Two rounds of changes",
        ),
        markdown=True,
        images=1,
    ),
    DemoListing(
        "Postcard set: cities at night",
        "art",
        "0.02",
        80,
        "Twelve postcards from original photographs, printed on matte card.",
        images=1,
    ),
    DemoListing(
        "Carved walnut spoon",
        "art",
        "0.08",
        6,
        "Carved by hand from one piece of walnut, finished with food-safe oil.",
        images=2,
    ),
    # services
    DemoListing(
        "Server hardening review (2 hours)",
        "services",
        "0.6",
        10,
        _md(
            "I review one Linux server and send you a written report.",
            "",
            "## What you get",
            "",
            "- SSH and firewall configuration",
            "- Updates and exposed services",
            "- A prioritised to-do list",
        ),
        markdown=True,
        images=1,
    ),
    DemoListing(
        "Logo design, three concepts",
        "services",
        "0.8",
        4,
        "Three concepts, two rounds of changes, final files in SVG and PNG.",
        images=2,
    ),
    DemoListing(
        "Proofreading, up to 5,000 words",
        "services",
        "0.15",
        15,
        "English proofreading with tracked changes. Delivery within three days.",
        images=1,
    ),
    DemoListing(
        "Monero node setup over video call",
        "services",
        "0.3",
        8,
        _md(
            "We set up a node on **your** machine together, step by step.",
            "",
            "Bring a machine with 200 GB of free disk space.",
        ),
        markdown=True,
        images=1,
    ),
    # other
    DemoListing(
        "Mystery box of stickers", "other", "0.01", 100, "Twenty assorted privacy and open-source stickers.", images=2
    ),
    DemoListing(
        "Vintage film camera, 35 mm",
        "other",
        "0.65",
        1,
        _md(
            "Fully mechanical, tested with a roll of film (sample shots in the photos).",
            "",
            "*Sold as is.*",
        ),
        markdown=True,
        images=3,
    ),
    DemoListing(
        "Board game: Hidden Ledger",
        "other",
        "0.2",
        5,
        "A bluffing game for 3–6 players about secret transactions. Complete and sealed.",
        images=1,
    ),
    DemoListing(
        "Lock-picking practice set",
        "other",
        "0.14",
        11,
        "A clear practice lock, 12 picks and tension wrenches, in a zip case.",
        images=2,
    ),
)
