"""The yearly household dynamics, one module per mechanism, in the order the year runs:
demography (ageing), economy (income growth), shocks (illness, disasters, job loss),
migration (household choices) and living conditions (schooling, housing, water, insurance)."""
