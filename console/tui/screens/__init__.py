"""The five top-level screens (switched with 1–5) and the views pushed over them."""
