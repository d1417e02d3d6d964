"""Practices, clinicians, attestations and the evidence listing, CSV import, manifests, the missing report."""
