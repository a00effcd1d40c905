"""The simulators' sample store: customers, orders, a manga catalog, returns and promotions from data/*.json."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).with_name("data")
JST = timezone(timedelta(hours=9))
TRACKING_URL = "https://tracking.example.jp/track/{tracking_no}"
_INTERNAL_PRODUCT_KEYS = ("keywords",)


def normalize(text: str) -> str:
    """Fold width and case so "ＯＮＥ　ＰＩＥＣＥ", "One Piece" and "one piece" compare equal."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _read(name: str) -> Any:
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


def _render_order(raw: dict[str, Any], today: date) -> dict[str, Any]:
    ordered = today - timedelta(days=raw["ordered_days_ago"])
    order = {
        "order_id": raw["order_id"],
        "status": raw["status"],
        "ordered_at": datetime(ordered.year, ordered.month, ordered.day, 10, 15, tzinfo=JST).isoformat(),
        "estimated_delivery": None,
        "items": raw["items"],
        "tracking_url": None,
    }
    if "delivery_in_days" in raw:
        order["estimated_delivery"] = (today + timedelta(days=raw["delivery_in_days"])).isoformat()
    if raw.get("tracking_no") and raw["status"] in ("shipped", "delivered"):
        order["tracking_url"] = TRACKING_URL.format(tracking_no=raw["tracking_no"])
    return order


@dataclass(frozen=True)
class SampleStore:
    products: dict[str, dict[str, Any]]
    search_keys: dict[str, tuple[str, ...]]  # product_id -> normalised strings a query may match
    trending: tuple[str, ...]
    profiles: dict[str, dict[str, Any]]
    orders: dict[str, list[dict[str, Any]]]
    returns: dict[str, list[dict[str, Any]]]
    promotions: tuple[dict[str, Any], ...]

    @classmethod
    def load(cls) -> SampleStore:
        """Read data/*.json; order dates are rendered relative to today (JST) so they always look current."""
        today = datetime.now(JST).date()
        catalog = _read("catalog.json")
        products, keys = {}, {}
        for raw in catalog["products"]:
            public = {k: v for k, v in raw.items() if k not in _INTERNAL_PRODUCT_KEYS}
            products[raw["product_id"]] = public
            fields = [raw["title"], raw["title_ja"], raw["author"], *raw.get("keywords", ())]
            keys[raw["product_id"]] = tuple(normalize(f) for f in fields if f)
        profiles = {p["customer_id"]: p for p in _read("customers.json")["profiles"]}
        orders = {
            customer: [_render_order(o, today) for o in raw_orders]
            for customer, raw_orders in _read("orders.json")["orders"].items()
        }
        return cls(
            products=products,
            search_keys=keys,
            trending=tuple(catalog["trending"]),
            profiles=profiles,
            orders=orders,
            returns=_read("returns.json")["returns"],
            promotions=tuple(_read("promotions.json")["promotions"]),
        )

    def ordered_product_ids(self, customer_id: str) -> set[str]:
        return {item["product_id"] for order in self.orders.get(customer_id, ()) for item in order["items"]}
