"""The store's HTTP dependencies as simulators: catalog, recommendations, orders, returns, promotions,
profiles, analytics and feedback, answering from the sample store (contracts: docs/downstream-contracts.md)."""

from __future__ import annotations

from typing import Any

from local.simulators.sample_data import SampleStore, normalize
from local.simulators.server import HttpError, Route, SimRequest, SimResponse, SimService, route

DEFAULT_LIMIT = 5


def _customer(store: SampleStore, customer_id: str) -> str:
    if customer_id not in store.profiles:
        raise HttpError(404, "customer_not_found", f"no customer {customer_id}")
    return customer_id


class StoreService(SimService):
    def __init__(self, store: SampleStore):
        self.store = store


class CatalogService(StoreService):
    name = "catalog"

    def routes(self) -> list[Route]:
        # /products/search and /products/popular must win over /products/{product_id}.
        return [
            route("GET", "/products/search", self.search),
            route("GET", "/products/popular", self.popular),
            route("GET", "/products/{product_id}", self.product),
        ]

    def search(self, req: SimRequest) -> SimResponse:
        query = normalize(req.args.get("q", ""))
        if not query:
            raise HttpError(400, "bad_parameter", "q is required")
        if (req.args.get("lang") or "en") not in ("ja", "en"):  # both languages get the same records
            raise HttpError(400, "bad_parameter", "lang must be ja or en")
        limit = req.int_arg("limit", DEFAULT_LIMIT)
        scored = []
        for product_id, keys in self.store.search_keys.items():
            score = self._score(query, keys)
            if score:
                product = self.store.products[product_id]
                scored.append((-score, -(product["volume"] or 0), product_id))
        best = min((s for s, _, _ in scored), default=0)
        # Only the best tier: "one piece" must not pad its answer with every title by the author ONE.
        ranked = sorted(entry for entry in scored if entry[0] == best)
        return SimResponse(200, {"items": [self.store.products[pid] for _, _, pid in ranked[:limit]]})

    @staticmethod
    def _score(query: str, keys: tuple[str, ...]) -> int:
        """Whole-query hits beat alias hits ("フリーレンの新刊" holds the alias フリーレン) beat word hits."""
        if any(query in key for key in keys):
            return 3
        if any(len(key) >= 2 and key in query for key in keys):
            return 2
        words = [w for w in query.split() if len(w) >= 3]
        return 1 if words and any(w in key for w in words for key in keys) else 0

    def popular(self, req: SimRequest) -> SimResponse:
        limit = req.int_arg("limit", DEFAULT_LIMIT)
        return SimResponse(200, {"items": [self.store.products[pid] for pid in self.store.trending[:limit]]})

    def product(self, req: SimRequest) -> SimResponse:
        product = self.store.products.get(req.params["product_id"])
        if product is None:
            raise HttpError(404, "product_not_found", f"no product {req.params['product_id']}")
        return SimResponse(200, product)


class RecommendationsService(StoreService):
    """Genre-based picks for known customers, trending for everyone else; never what they already bought."""

    name = "recommendations"

    def routes(self) -> list[Route]:
        return [route("GET", "/recommendations", self.recommend)]

    def recommend(self, req: SimRequest) -> SimResponse:
        limit = req.int_arg("limit", DEFAULT_LIMIT)
        customer_id = req.args.get("customer_id") or None
        picks: list[dict[str, Any]] = []
        owned: set[str] = set()
        if customer_id is not None:
            profile = self.store.profiles.get(_customer(self.store, customer_id))
            owned = self.store.ordered_product_ids(customer_id)
            for genre in profile["favorite_genres"]:
                for product in self.store.products.values():
                    if genre in product["genres"] and product["in_stock"] and product["product_id"] not in owned:
                        picks.append({**product, "reason": f"favorite_genre:{genre}"})
                        owned.add(product["product_id"])
        for product_id in self.store.trending:
            if product_id not in owned:
                picks.append({**self.store.products[product_id], "reason": "trending"})
                owned.add(product_id)
        return SimResponse(200, {"items": picks[:limit]})


class CustomerRecordsService(StoreService):
    """One customer's orders (newest first, ?limit) or returns, under /customers/{customer_id}/<kind>."""

    def __init__(self, store: SampleStore, name: str, kind: str):
        super().__init__(store)
        self.name = name
        self.kind = kind

    def routes(self) -> list[Route]:
        return [route("GET", f"/customers/{{customer_id}}/{self.kind}", self.records)]

    def records(self, req: SimRequest) -> SimResponse:
        customer_id = _customer(self.store, req.params["customer_id"])
        if self.kind == "returns":
            return SimResponse(200, {"returns": self.store.returns.get(customer_id, [])})
        limit = req.int_arg("limit", DEFAULT_LIMIT)
        newest_first = sorted(self.store.orders.get(customer_id, []), key=lambda o: o["ordered_at"], reverse=True)
        return SimResponse(200, {"orders": newest_first[:limit]})


class PromotionsService(StoreService):
    """Promotions for everyone, plus the ones a known customer's genres or points qualify for."""

    name = "promotions"

    def routes(self) -> list[Route]:
        return [route("GET", "/promotions", self.promotions)]

    def promotions(self, req: SimRequest) -> SimResponse:
        if (req.args.get("lang") or "en") not in ("ja", "en"):  # both languages get the same records
            raise HttpError(400, "bad_parameter", "lang must be ja or en")
        profile = self.store.profiles.get(req.args.get("customer_id") or "")
        genres = set(profile["favorite_genres"]) if profile else set()
        points = profile["points"] if profile else 0
        chosen = []
        for promo in self.store.promotions:
            if promo.get("genres") and not genres.intersection(promo["genres"]):
                continue
            if points < promo.get("min_points", 0):
                continue
            chosen.append({k: promo[k] for k in ("promotion_id", "text_en", "text_ja", "url")})
        return SimResponse(200, {"promotions": chosen})


class UserProfileService(StoreService):
    name = "user_profile"

    def routes(self) -> list[Route]:
        return [route("GET", "/profiles/{customer_id}", self.profile)]

    def profile(self, req: SimRequest) -> SimResponse:
        return SimResponse(200, self.store.profiles[_customer(self.store, req.params["customer_id"])])


class EventSinkService(SimService):
    """Accepts JSON objects with 202 (analytics events, feedback); GET /_sim/requests shows the latest."""

    def __init__(self, name: str, path: str):
        self.name = name
        self.path = path

    def routes(self) -> list[Route]:
        return [route("POST", self.path, self.accept)]

    def accept(self, req: SimRequest) -> SimResponse:
        if "json" not in req.headers.get("content-type", ""):
            raise HttpError(415, "unsupported_media_type", "send application/json")
        payload = req.get_json(force=True)
        if not isinstance(payload, dict) or not payload:
            raise HttpError(400, "bad_body", "body must be a non-empty JSON object")
        return SimResponse(202, {"accepted": 1})


def store_services(store: SampleStore) -> list[SimService]:
    return [
        CatalogService(store),
        RecommendationsService(store),
        CustomerRecordsService(store, "order_service", "orders"),
        CustomerRecordsService(store, "returns_service", "returns"),
        PromotionsService(store),
        UserProfileService(store),
        EventSinkService("analytics", "/events"),
        EventSinkService("feedback", "/feedback"),
    ]
