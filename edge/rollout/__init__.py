"""Model rollout on the node: fetch the version cloud-duty assigns, swap it in, roll back."""
