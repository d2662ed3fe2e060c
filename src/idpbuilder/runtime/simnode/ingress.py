"""Ingress status: the simulated node answers for every Ingress, as an ingress controller bound to the
node's address (kind's ingress-nginx setup) would, so health checks that wait for an address pass."""

from __future__ import annotations

from ..api import ObjectKey, Result
from .base import SimController
from .refs import INGRESSES
from .util import Obj, status_of


def ingress_status(ingress: Obj, address: str) -> Obj:
    return {**status_of(ingress), "loadBalancer": {"ingress": [{"ip": address}]}}


class IngressController(SimController):
    field_manager = "ingress-controller"

    async def sync(self, key: ObjectKey) -> Result | None:
        ingress = await self.get(INGRESSES, key.name, key.namespace)
        if ingress is None:
            return None
        await self.write_status(INGRESSES, ingress, ingress_status(ingress, self.config.node_ip))
        return None
