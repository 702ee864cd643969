"""Use cases: what maild does with asks, drafts and mail, over the store and adapters."""
