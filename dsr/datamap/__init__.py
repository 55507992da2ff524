"""The data map: what personal data each store holds, found from its live schema and bounded samples."""
