"""`Loaders` (api/dataloaders.py): each loader is made on first use and kept; read on the class
(as introspection and documentation tools do) it is the descriptor, not an error."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from gqlorders.api.dataloaders import Loaders, lazy


async def test_a_loader_is_made_once_per_instance_and_is_its_descriptor_on_the_class() -> None:
    loaders = Loaders(organization_id=1)

    assert isinstance(Loaders.customer, lazy)
    assert isinstance(loaders.customer, DataLoader)
    assert loaders.customer is loaders.customer
    assert Loaders(organization_id=1).customer is not loaders.customer
