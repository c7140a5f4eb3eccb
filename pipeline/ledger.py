"""The accounting model (DESIGN §1): nine leaves in four stages, and the two extra buckets."""

from __future__ import annotations

# (stage, leaf, symbol, human name) in report order.
LEAF_TABLE: tuple[tuple[str, str, str, str], ...] = (
    ("pretrain", "data", "C_data", "Data collection"),
    ("pretrain", "labeled", "C_labeled", "Data labeling"),
    ("pretrain", "training", "C_training", "Model training (compute, engineering)"),
    ("tuning", "tuning_time", "C_tuning_time", "Tuning time (people)"),
    ("tuning", "tuning_resources", "C_tuning_resources", "Tuning resources (compute)"),
    ("deploy", "hardware", "C_hardware", "Serving hardware"),
    ("deploy", "software", "C_software", "Serving software"),
    ("maintenance", "maintenance_time", "C_maintenance_time", "Maintenance time (people)"),
    ("maintenance", "maintenance_resources", "C_maintenance_resources", "Maintenance resources (compute)"),
)

LEAVES: tuple[str, ...] = tuple(leaf for _, leaf, _, _ in LEAF_TABLE)
STAGES: tuple[str, ...] = ("pretrain", "tuning", "deploy", "maintenance")
STAGE_SYMBOLS = {
    "pretrain": "C_pretrain",
    "tuning": "C_tuning",
    "deploy": "C_deploy",
    "maintenance": "C_maintenance",
}
STAGE_NAMES = {
    "pretrain": "Pre-training",
    "tuning": "Tuning",
    "deploy": "Deployment",
    "maintenance": "Maintenance",
}
LEAF_STAGE = {leaf: stage for stage, leaf, _, _ in LEAF_TABLE}
UNALLOCATED = "unallocated"
OUT_OF_SCOPE = "out_of_scope"
BUCKETS: tuple[str, ...] = (*LEAVES, UNALLOCATED, OUT_OF_SCOPE)

# People cost is published in groups of at least `privacy.min_people_per_row` people
# (docs/privacy.md). A dimension a merged group does not share reads SEVERAL; time of a leaf-month
# with too few people is merged across leaves into the PEOPLE_MERGED bucket, part of C_total but
# of no stage.
SEVERAL = "(several)"
PEOPLE_MERGED = "people_merged"
PEOPLE_MERGED_SYMBOL = "C_people_merged"

BUILTIN_SCENARIOS: tuple[str, ...] = (
    "search_ranking",
    "product_recommendation",
    "personalized_recommendation",
    "ad_serving",
    "inventory_management",
)

SOURCES: tuple[str, ...] = ("focus", "invoice", "timesheet", "asset")
