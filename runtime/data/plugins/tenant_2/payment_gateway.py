"""Tenant 2's own node type (the source document's plugin example): a payment gateway.

Files in plugins/tenant_<id>/ are found at start; their node types are listed for, and
runnable by, that tenant only.
"""
from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field

from runtime.nodes.base import NodeConfig, NodeContext, NodeType


class PaymentGatewayConfig(NodeConfig):
    amount: float = Field(gt=0, description="Amount to charge, in the shop's currency.")
    currency: str = Field("TRY", pattern=r"^[A-Z]{3}$")


class PaymentGateway(NodeType):
    type_id = "payment_gateway"
    title = "Payment gateway"
    description = "Charges the customer (demo: approves amounts up to 100,000)."
    category = "integration"
    icon = "payments"
    Config = PaymentGatewayConfig
    outputs = ("payment_result", "transaction_id")

    async def run(self, config: PaymentGatewayConfig, ctx: NodeContext) -> dict[str, Any]:
        approved = config.amount <= 100_000
        digest = hashlib.sha256(f"{ctx.run_id}:{ctx.node_id}:{config.amount}".encode()).hexdigest()[:16]
        return {"payment_result": "approved" if approved else "declined", "transaction_id": f"tx_{digest}"}
