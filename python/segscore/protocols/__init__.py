"""Challenge protocols: one scoring recipe of a named challenge each (curvas2024)."""
