"""The public `explorer.units` (README: `explorer.units.model_unit(model).label`): what a model's numbers
measure. The code lives in explorer/data/units.py (a pixel rule and a likelihood's unit) and
explorer/data/ref.py (`model_unit`, which reads the model's DatasetRef); the core imports those, not this."""
from .data.ref import model_unit
from .data.units import UNITS, Unit, comparison, dequantization_offset, unit_fields, unit_of

__all__ = ["UNITS", "Unit", "comparison", "dequantization_offset", "model_unit", "unit_fields", "unit_of"]
