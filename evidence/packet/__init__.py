"""The audit-ready PDF packet: content, rendering (templates, fonts) and the ZIP edition."""
