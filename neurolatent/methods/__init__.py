"""Supporting learning methods, one subpackage per family (``nl.methods.<family>``)."""
__all__: list[str] = []
