"""The demo company: six months of an e-commerce company's AI-model costs, written into a landing folder.

Acme Shop runs five models (search re-ranking, an LLM product recommender, a personalised
home feed, an ads CTR model and a demand forecaster) on two clouds and pays four vendors:

- AWS bills in USD: a FOCUS 1.0 export, CSV.gz, in the AWS Data Exports layout
  (``focus/aws-focus/<export>/data/BILLING_PERIOD=YYYY-MM/`` + ``metadata/.../<export>-Manifest.json``),
  with a Compute Savings Plan (monthly purchase billed, covered usage amortised), a support
  plan, a credit, and tax lines.
- Alibaba Cloud bills in CNY: a FOCUS 1.2 export, one Parquet file per month under
  ``focus/alibaba/``, with a monthly subscription amortised over the covered instance-days and
  one adjustment.
- The ML lab's own AWS payer delivers a native CUR 2.0 export (CSV.gz + manifest, issue 11)
  under ``aws_cur/acme-labs-cur2/``: tagged SageMaker training, Bedrock tokens, Savings Plan
  covered inference with its negation and recurring fee, tax.
- Vendor invoices (docs/formats.md) from two labeling vendors, a data vendor and a software
  vendor, in CNY and USD: one invoice whose service period spans two months, one invoice revised
  in a second file, one credit note. The labeling vendors' last invoices come as they would from a
  vendor: AnnotatePro's as an XLSX workbook, CrowdLabel's as a text PDF (examples/demo/documents.py).
- Monthly time-log exports for 18 people across every activity of examples/demo/config/activities.yaml (plus
  one later correction export); in the first month, a third of the people log in Jira Tempo and
  a third in Harvest, whose own exports land under ``timesheets/tempo/`` and ``timesheets/harvest/``, effective-dated loaded hourly rates by role and by employee
  (a raise mid-period), daily USD->CNY rates, GPU-hour metrics for the shared GPU pool, and
  budgets: 1,000,000 CNY a month split 20/10/30/40 across the four stages, plus two leaf budgets.

Resources carry the tags examples/demo/config/cost_rules.yaml reads (``cl-model``/``cl-leaf``, ``cl-pool``,
``cl-workload``); a few carry none, so a few per cent of the cost stays unallocated.

Everything comes from one seeded ``random.Random``; nothing reads the clock, so the same seed
writes byte-identical files. Money is ``Decimal`` throughout and is written as plain decimal
strings (CSV) or DECIMAL(38,10) (Parquet).
"""

from __future__ import annotations

import argparse
import calendar
import csv
import json
import os
import random
import sys
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd


def _load_documents():
    """examples/demo/documents.py, beside this file (the CLI loads this file by path, not as a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "costledger_demo_documents", Path(__file__).with_name("documents.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_documents = _load_documents()
write_xlsx_invoice = _documents.write_xlsx_invoice
write_pdf_invoice = _documents.write_pdf_invoice
write_tempo = _documents.write_tempo
write_harvest = _documents.write_harvest

DEFAULT_SEED = 20261
DEFAULT_MONTHS = ("2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
REPORTING_CURRENCY = "CNY"
MONTHLY_BUDGET = Decimal("1000000")
# fmt: off
STAGE_SPLIT = (("pretrain", Decimal("0.20")), ("tuning", Decimal("0.10")), ("deploy", Decimal("0.30")),
               ("maintenance", Decimal("0.40")))
# fmt: on
LEAF_BUDGETS = (("pretrain", "labeled", Decimal("70000")), ("deploy", "hardware", Decimal("240000")))

AWS_EXPORT = "acme-focus-export"
AWS_BUCKET = "acme-billing-exports"
AWS_PREFIX = "aws-focus"
AWS_PAYER = ("112233445566", "Acme Shop Group")
ALI_PAYER = ("1588234567890123", "acme-shop-cn")
# The ML lab's own AWS organisation delivers its native CUR 2.0 (issue 11): another payer than the
# FOCUS export's, so the two never describe the same account.
CUR_EXPORT = "acme-labs-cur2"
CUR_PAYER = ("223344556677", "Acme Shop ML Lab")
CUR_BUCKET = "acme-labs-billing"
CUR_COLUMNS = (
    "bill_bill_type",
    "bill_billing_entity",
    "bill_billing_period_end_date",
    "bill_billing_period_start_date",
    "bill_invoicing_entity",
    "bill_payer_account_id",
    "bill_payer_account_name",
    "cost_category",
    "identity_line_item_id",
    "line_item_currency_code",
    "line_item_line_item_description",
    "line_item_line_item_type",
    "line_item_product_code",
    "line_item_resource_id",
    "line_item_unblended_cost",
    "line_item_usage_account_id",
    "line_item_usage_amount",
    "line_item_usage_end_date",
    "line_item_usage_start_date",
    "line_item_usage_type",
    "pricing_unit",
    "product_region_code",
    "resource_tags",
    "savings_plan_savings_plan_a_r_n",
    "savings_plan_savings_plan_effective_cost",
    "savings_plan_total_commitment_to_date",
    "savings_plan_used_commitment",
)

_Q10 = Decimal("0.0000000001")
_Q4 = Decimal("0.0001")
_Q2 = Decimal("0.01")

# --------------------------------------------------------------------------------------------
# FOCUS column sets
# --------------------------------------------------------------------------------------------

# fmt: off
FOCUS_10_COLUMNS = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
    "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountType", "ConsumedQuantity",
    "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceIssuerName",
    "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit", "ProviderName",
    "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags",
    # AWS adds provider-specific columns; costledger ignores x_* columns.
    "x_Operation", "x_ServiceCode", "x_UsageType",
)
# fmt: on

# fmt: off
FOCUS_12_COLUMNS = (
    "AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingAccountType",
    "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart", "CapacityReservationId",
    "CapacityReservationStatus", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory", "CommitmentDiscountId",
    "CommitmentDiscountName", "CommitmentDiscountQuantity", "CommitmentDiscountStatus",
    "CommitmentDiscountType", "CommitmentDiscountUnit", "ConsumedQuantity", "ConsumedUnit",
    "ContractedCost", "ContractedUnitPrice", "EffectiveCost", "InvoiceId", "InvoiceIssuerName", "ListCost",
    "ListUnitPrice", "PricingCategory", "PricingCurrency", "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
    "ServiceCategory", "ServiceName", "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceDetails",
    "SkuPriceId", "SubAccountId", "SubAccountName", "SubAccountType", "Tags",
)
# fmt: on

# Columns written as DECIMAL(38,10) in Parquet (and as plain decimal strings in CSV).
# fmt: off
FOCUS_DECIMAL_COLUMNS = frozenset({
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice", "ContractedUnitPrice",
    "PricingQuantity", "ConsumedQuantity", "CommitmentDiscountQuantity", "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost", "PricingCurrencyListUnitPrice",
})
# fmt: on

# fmt: off
INVOICE_COLUMNS = (
    "vendor", "invoice_number", "invoice_date", "revision", "document_type", "line_number", "description",
    "service_period_start", "service_period_end", "quantity", "unit", "unit_price", "amount", "currency",
    "model_or_project",
)
# fmt: on
# fmt: off
TIMESHEET_COLUMNS = (
    "employee_id", "employee_name", "employee_email", "role", "work_date", "hours", "activity",
    "model_or_project", "exported_at",
)
# fmt: on
HR_RATE_COLUMNS = ("employee_id", "role", "effective_from", "hourly_rate", "currency")
FX_COLUMNS = ("rate_date", "from_currency", "to_currency", "rate")
BUDGET_COLUMNS = ("month", "stage", "leaf", "model_id", "currency", "amount")
METRIC_COLUMNS = ("month", "model_id", "metric", "value")

# --------------------------------------------------------------------------------------------
# The company
# --------------------------------------------------------------------------------------------

# model_id -> the alias people and vendors sometimes write instead (examples/demo/config/models.yaml)
MODELS = {
    "search-rerank-bert": "PRJ-SEARCH-RR",
    "reco-llm": "PRJ-RECO-LLM",
    "home-feed-personalizer": "PRJ-FEED",
    "ads-ctr-dcn": "PRJ-ADS-CTR",
    "demand-forecast-tft": "PRJ-DEMAND",
}
GPU_POOL_MODELS = ("search-rerank-bert", "reco-llm", "home-feed-personalizer", "ads-ctr-dcn")


@dataclass(frozen=True)
class CloudResource:
    """A billed resource: ``monthly`` is its target cost a month in the billing currency."""

    key: str
    account: tuple[str, str]  # (SubAccountId, SubAccountName)
    service: str
    category: str
    subcategory: str
    resource_type: str
    region: str
    sku: str  # AWS usage type / Alibaba SKU code
    unit: str
    unit_price: Decimal  # list price per unit
    monthly: Decimal
    tags: dict[str, str]
    count: int = 1  # instances: one line per instance and day
    commitment: bool = False  # covered by the Savings Plan (AWS) / the subscription (Alibaba)
    publisher: str | None = None
    scaled: bool = True  # follows the month's activity level (model cost) or not (web shop, sandbox)


def _t(model: str, leaf: str) -> dict[str, str]:
    return {"cl-leaf": leaf, "cl-model": model}


AWS_ML_PROD = ("210987654321", "acme-ml-prod")
AWS_ML_RESEARCH = ("310987654321", "acme-ml-research")
AWS_WEBSHOP = ("410987654321", "acme-webshop-prod")
EC2 = "Amazon Elastic Compute Cloud"
SM = "Amazon SageMaker"

# fmt: off
AWS_RESOURCES = (
    CloudResource("s3-raw-clickstream", AWS_ML_RESEARCH, "Amazon Simple Storage Service", "Storage",
                  "Object Storage", "Bucket", "us-east-1", "USE1-TimedStorage-ByteHrs", "GB-Mo",
                  Decimal("0.023"), Decimal("560"), _t("reco-llm", "data")),
    CloudResource("glue-ads-crawlers", AWS_ML_RESEARCH, "AWS Glue", "Analytics", "Data Processing", "Job",
                  "us-east-1", "USE1-ETL-DPU-Hour", "DPU-Hour", Decimal("0.44"), Decimal("420"),
                  _t("ads-ctr-dcn", "data")),
    CloudResource("sm-train-reco-llm", AWS_ML_RESEARCH, SM, "AI and Machine Learning", "Machine Learning",
                  "TrainingJob", "us-east-1", "USE1-Train:ml.p4d.24xlarge", "Hrs", Decimal("37.688"),
                  Decimal("2500"), _t("reco-llm", "training")),
    CloudResource("ec2-train-ads", AWS_ML_RESEARCH, EC2, "Compute", "Virtual Machines", "Instance",
                  "us-west-2", "USW2-BoxUsage:p3.8xlarge", "Hrs", Decimal("12.24"), Decimal("1110"),
                  _t("ads-ctr-dcn", "training")),
    CloudResource("sm-studio-reco-llm", AWS_ML_RESEARCH, SM, "AI and Machine Learning", "Machine Learning",
                  "NotebookInstance", "us-east-1", "USE1-Studio:ml.g5.4xlarge", "Hrs", Decimal("2.03"),
                  Decimal("1670"), _t("reco-llm", "tuning_resources")),
    CloudResource("ec2-gpu-pool", AWS_ML_RESEARCH, EC2, "Compute", "Virtual Machines", "Instance",
                  "us-east-1", "USE1-BoxUsage:g5.12xlarge", "Hrs", Decimal("5.672"), Decimal("4860"),
                  {"cl-pool": "shared-gpu", "team": "ml-platform"}, count=3),
    CloudResource("sm-endpoint-reco-llm", AWS_ML_PROD, SM, "AI and Machine Learning", "Machine Learning",
                  "Endpoint", "us-east-1", "USE1-Host:ml.inf2.8xlarge", "Hrs", Decimal("2.24"),
                  Decimal("6950"), _t("reco-llm", "hardware"), count=2, commitment=True),
    CloudResource("ec2-serving-ads", AWS_ML_PROD, EC2, "Compute", "Virtual Machines", "Instance",
                  "us-east-1", "USE1-BoxUsage:c7i.4xlarge", "Hrs", Decimal("0.714"), Decimal("5560"),
                  _t("ads-ctr-dcn", "hardware"), count=4, commitment=True),
    CloudResource("sm-endpoint-search", AWS_ML_PROD, SM, "AI and Machine Learning", "Machine Learning",
                  "Endpoint", "us-east-1", "USE1-Host:ml.g5.2xlarge", "Hrs", Decimal("1.515"),
                  Decimal("3470"), _t("search-rerank-bert", "hardware")),
    CloudResource("alb-ml-serving", AWS_ML_PROD, "Elastic Load Balancing", "Networking", "Load Balancing",
                  "LoadBalancer", "us-east-1", "USE1-LCUUsage", "LCU-Hrs", Decimal("0.008"),
                  Decimal("2780"), {"cl-pool": "shared-serving"}),
    CloudResource("mp-modelwatch", AWS_ML_PROD, "ModelWatch Observability (AWS Marketplace)",
                  "Management and Governance", "Observability", "Subscription", "us-east-1",
                  "MP:modelwatch-pro", "Units", Decimal("0.5"), Decimal("1500"), _t("ads-ctr-dcn", "software"),
                  publisher="ModelWatch Inc."),
    CloudResource("sm-retrain-reco-llm", AWS_ML_PROD, SM, "AI and Machine Learning", "Machine Learning",
                  "TrainingJob", "us-east-1", "USE1-Train:ml.g5.12xlarge", "Hrs", Decimal("7.09"),
                  Decimal("8330"), _t("reco-llm", "maintenance_resources")),
    CloudResource("sm-monitor-ads", AWS_ML_PROD, SM, "AI and Machine Learning", "Machine Learning",
                  "ProcessingJob", "us-east-1", "USE1-Processing:ml.m5.xlarge", "Hrs", Decimal("0.23"),
                  Decimal("2780"), _t("ads-ctr-dcn", "maintenance_resources")),
    CloudResource("batch-retrain-ads", AWS_ML_PROD, EC2, "Compute", "Virtual Machines", "Instance",
                  "us-east-1", "USE1-BoxUsage:g5.4xlarge", "Hrs", Decimal("1.624"), Decimal("5560"),
                  _t("ads-ctr-dcn", "maintenance_resources")),
    CloudResource("ec2-webshop", AWS_WEBSHOP, EC2, "Compute", "Virtual Machines", "Instance", "us-east-1",
                  "USE1-BoxUsage:m7i.2xlarge", "Hrs", Decimal("0.4032"), Decimal("12000"),
                  {"cl-workload": "webshop", "env": "prod"}, count=6, scaled=False),
    CloudResource("rds-checkout", AWS_WEBSHOP, "Amazon Relational Database Service", "Databases",
                  "Relational Databases", "DBInstance", "us-east-1", "USE1-InstanceUsage:db.r6g.4xl", "Hrs",
                  Decimal("1.728"), Decimal("5000"), {"cl-workload": "checkout"}, scaled=False),
    CloudResource("ec2-sandbox", AWS_ML_RESEARCH, EC2, "Compute", "Virtual Machines", "Instance",
                  "us-east-1", "USE1-BoxUsage:m7i.xlarge", "Hrs", Decimal("0.2016"), Decimal("1500"),
                  {"Name": "jupyter-sandbox"}, count=2, scaled=False),
    CloudResource("cloudwatch", AWS_ML_PROD, "AmazonCloudWatch", "Management and Governance",
                  "Observability", "Metric", "us-east-1", "USE1-CW:MetricMonitorUsage", "Metrics",
                  Decimal("0.30"), Decimal("400"), {}, scaled=False),
)
# fmt: on

ALI_AI = ("1760000000000001", "acme-ai-platform")
ALI_SHOP = ("1760000000000002", "acme-storefront")
PAI = "Platform for AI"
ECS = "Elastic Compute Service"

# fmt: off
ALI_RESOURCES = (
    CloudResource("oss-raw-homefeed", ALI_AI, "Object Storage Service", "Storage", "Object Storage",
                  "Bucket", "cn-hangzhou", "oss-standard-storage", "GB-Month", Decimal("0.12"),
                  Decimal("4000"), _t("home-feed-personalizer", "data")),
    CloudResource("dataworks-demand", ALI_AI, "DataWorks", "Analytics", "Data Processing", "Workspace",
                  "cn-shanghai", "dataworks-di-cu", "CU-Hour", Decimal("0.8"), Decimal("4000"),
                  _t("demand-forecast-tft", "data")),
    CloudResource("pai-dlc-search-train", ALI_AI, PAI, "AI and Machine Learning", "AI Platforms", "DLCJob",
                  "cn-hangzhou", "pai-dlc-gu50", "GPU-Hour", Decimal("28.5"), Decimal("14000"),
                  _t("search-rerank-bert", "training")),
    CloudResource("pai-dlc-homefeed-train", ALI_AI, PAI, "AI and Machine Learning", "AI Platforms", "DLCJob",
                  "cn-hangzhou", "pai-dlc-gu50", "GPU-Hour", Decimal("28.5"), Decimal("10000"),
                  _t("home-feed-personalizer", "training")),
    CloudResource("pai-dsw-search-tune", ALI_AI, PAI, "AI and Machine Learning", "AI Platforms", "DSWInstance",
                  "cn-hangzhou", "pai-dsw-gn7i", "Hour", Decimal("12.6"), Decimal("8000"),
                  _t("search-rerank-bert", "tuning_resources")),
    CloudResource("ecs-homefeed-serving", ALI_AI, ECS, "Compute", "Virtual Machines", "Instance",
                  "cn-hangzhou", "ecs.gn7i-c16g1.4xlarge", "Hour", Decimal("23.2"), Decimal("50000"),
                  _t("home-feed-personalizer", "hardware"), count=3),
    CloudResource("ecs-demand-batch", ALI_AI, ECS, "Compute", "Virtual Machines", "Instance", "cn-shanghai",
                  "ecs.c7.4xlarge", "Hour", Decimal("5.9"), Decimal("15000"),
                  _t("demand-forecast-tft", "hardware")),
    CloudResource("ecs-search-serving", ALI_AI, ECS, "Compute", "Virtual Machines", "Instance", "cn-hangzhou",
                  "ecs.gn7i-c8g1.2xlarge", "Hour", Decimal("16.8"), Decimal("20000"),
                  _t("search-rerank-bert", "hardware"), count=2, commitment=True),
    CloudResource("slb-serving", ALI_AI, "Server Load Balancer", "Networking", "Load Balancing",
                  "LoadBalancer", "cn-hangzhou", "slb-lcu", "LCU-Hour", Decimal("0.05"), Decimal("12000"),
                  {"cl-pool": "shared-serving"}),
    CloudResource("cdn-serving-egress", ALI_AI, "Alibaba Cloud CDN", "Networking", "Content Delivery",
                  "Domain", "cn-hangzhou", "cdn-traffic-cn", "GB", Decimal("0.24"), Decimal("8000"),
                  {"cl-pool": "shared-serving"}),
    CloudResource("opensearch-search", ALI_AI, "OpenSearch", "Analytics", "Search", "Instance",
                  "cn-hangzhou", "opensearch-vector-cu", "CU-Hour", Decimal("1.9"), Decimal("17000"),
                  _t("search-rerank-bert", "software")),
    CloudResource("pai-dlc-homefeed-retrain", ALI_AI, PAI, "AI and Machine Learning", "AI Platforms", "DLCJob",
                  "cn-hangzhou", "pai-dlc-gu50", "GPU-Hour", Decimal("28.5"), Decimal("60000"),
                  _t("home-feed-personalizer", "maintenance_resources")),
    CloudResource("maxcompute-demand-retrain", ALI_AI, "MaxCompute", "Analytics", "Data Processing",
                  "Project", "cn-shanghai", "odps-cu-payg", "CU-Hour", Decimal("0.3"), Decimal("50000"),
                  _t("demand-forecast-tft", "maintenance_resources")),
    CloudResource("arms-search-monitor", ALI_AI, "Application Real-Time Monitoring Service",
                  "Management and Governance", "Observability", "Application", "cn-hangzhou",
                  "arms-apm-probe", "Probe-Hour", Decimal("0.35"), Decimal("20000"),
                  _t("search-rerank-bert", "maintenance_resources")),
    CloudResource("pai-eas-search-eval", ALI_AI, PAI, "AI and Machine Learning", "AI Platforms", "EASService",
                  "cn-hangzhou", "pai-eas-gn6i", "Hour", Decimal("9.4"), Decimal("30000"),
                  _t("search-rerank-bert", "maintenance_resources")),
    CloudResource("ecs-storefront", ALI_SHOP, ECS, "Compute", "Virtual Machines", "Instance", "cn-hangzhou",
                  "ecs.g7.2xlarge", "Hour", Decimal("2.6"), Decimal("40000"), {"cl-workload": "storefront"},
                  count=4, scaled=False),
    CloudResource("rds-checkout-cn", ALI_SHOP, "ApsaraDB RDS", "Databases", "Relational Databases",
                  "DBInstance", "cn-hangzhou", "rds.mysql.x4.large", "Hour", Decimal("6.1"), Decimal("15000"),
                  {"cl-workload": "checkout"}, scaled=False),
    CloudResource("ecs-test-untagged", ALI_AI, ECS, "Compute", "Virtual Machines", "Instance", "cn-beijing",
                  "ecs.g7.xlarge", "Hour", Decimal("1.3"), Decimal("12000"), {}, count=2, scaled=False),
    CloudResource("oss-backup-untagged", ALI_SHOP, "Object Storage Service", "Storage", "Object Storage",
                  "Bucket", "cn-beijing", "oss-ia-storage", "GB-Month", Decimal("0.08"), Decimal("3000"), {},
                  scaled=False),
)
# fmt: on

ALI_REGION_NAMES = {
    "cn-hangzhou": "China (Hangzhou)",
    "cn-shanghai": "China (Shanghai)",
    "cn-beijing": "China (Beijing)",
}
ALI_INSTANCE_PREFIX = {"cn-hangzhou": "bp1", "cn-shanghai": "uf6", "cn-beijing": "2ze"}  # as ECS ids look
AWS_REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-west-2": "US West (Oregon)"}
SAVINGS_PLAN_RATE = Decimal("0.72")  # Savings Plan price / on-demand price
ALI_CONTRACT_DISCOUNT = Decimal("0.92")  # Alibaba enterprise discount on list prices


@dataclass(frozen=True)
class Person:
    employee_id: str
    name: str
    email: str
    role: str
    groups: tuple[str, ...]  # leaf groups the person logs time to
    models: tuple[str, ...]


# leaf group -> activities (examples/demo/config/activities.yaml); annotators annotate, others review.
ACTIVITY_GROUPS = {
    "data": ("data_collection", "data_cleaning"),
    "labeled": ("annotation", "label_review"),
    "training": ("pretraining", "model_development"),
    "tuning_time": ("fine_tuning", "hyperparameter_search", "optimization"),
    "maintenance_time": ("monitoring", "on_call", "retraining", "model_update"),
}
# leaf group -> target cost a month in CNY (before the month's activity level)
PEOPLE_TARGETS = {
    "data": Decimal("15000"),
    "labeled": Decimal("16000"),
    "training": Decimal("30000"),
    "tuning_time": Decimal("45000"),
    "maintenance_time": Decimal("120000"),
}

_ALL = tuple(MODELS)
# (role, groups, models) for E1001..E1018
STAFF_PLAN = (
    ("senior_ml_engineer", ("training", "tuning_time"), ("reco-llm", "search-rerank-bert")),
    ("ml_engineer", ("training", "maintenance_time"), ("ads-ctr-dcn",)),
    ("ml_engineer", ("training", "tuning_time"), ("home-feed-personalizer",)),
    ("data_scientist", ("tuning_time", "labeled"), ("demand-forecast-tft", "search-rerank-bert")),
    ("data_scientist", ("tuning_time",), ("reco-llm", "home-feed-personalizer")),
    ("data_engineer", ("data",), ("reco-llm", "ads-ctr-dcn", "home-feed-personalizer")),
    ("data_engineer", ("data",), ("search-rerank-bert", "demand-forecast-tft")),
    ("annotator", ("labeled",), ("search-rerank-bert", "reco-llm")),
    ("annotator", ("labeled",), ("home-feed-personalizer", "ads-ctr-dcn")),
    ("annotator", ("labeled",), ("demand-forecast-tft", "reco-llm")),
    ("mlops_engineer", ("maintenance_time",), ("reco-llm", "ads-ctr-dcn")),
    ("mlops_engineer", ("maintenance_time",), ("search-rerank-bert", "home-feed-personalizer")),
    ("mlops_engineer", ("maintenance_time",), ("demand-forecast-tft", "ads-ctr-dcn")),
    ("mlops_engineer", ("maintenance_time",), _ALL),
    ("ml_engineer", ("maintenance_time", "tuning_time"), ("ads-ctr-dcn",)),
    ("ml_engineer", ("maintenance_time",), ("demand-forecast-tft",)),
    (
        "senior_ml_engineer",
        ("training", "maintenance_time"),
        ("search-rerank-bert", "home-feed-personalizer"),
    ),
    ("data_scientist", ("tuning_time", "training"), ("demand-forecast-tft", "ads-ctr-dcn")),
)

FIRST_NAMES = (
    "Wei",
    "Fang",
    "Jing",
    "Lei",
    "Min",
    "Yan",
    "Tao",
    "Xin",
    "Hui",
    "Jun",
    "Li",
    "Ping",
    "Qiang",
    "Ying",
    "Chen",
    "Mei",
    "Anna",
    "Lukas",
    "Sofia",
    "Daniel",
    "Priya",
    "Mateo",
    "Hana",
    "Omar",
)
LAST_NAMES = (
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Yang",
    "Huang",
    "Zhao",
    "Wu",
    "Zhou",
    "Xu",
    "Sun",
    "Ma",
    "Zhu",
    "Hu",
    "Guo",
    "Schmidt",
    "Rossi",
    "Novak",
    "Sato",
    "Kim",
    "Iyer",
    "Haddad",
)

# role -> [(effective_from, hourly rate CNY)]: a raise on 1 August 2026
ROLE_RATES = {
    "annotator": (("2026-01-01", "110.00"), ("2026-08-01", "116.00")),
    "data_engineer": (("2026-01-01", "260.00"), ("2026-08-01", "273.00")),
    "data_scientist": (("2026-01-01", "320.00"), ("2026-08-01", "336.00")),
    "ml_engineer": (("2026-01-01", "340.00"), ("2026-08-01", "357.00")),
    "mlops_engineer": (("2026-01-01", "300.00"), ("2026-08-01", "315.00")),
    "senior_ml_engineer": (("2026-01-01", "430.00"), ("2026-08-01", "452.00")),
}
# a few people have their own loaded rate (it wins over the role's)
EMPLOYEE_RATES = {
    "E1001": (("2026-01-01", "520.00"),),
    "E1005": (("2026-01-01", "380.00"), ("2026-09-01", "400.00")),
    "E1012": (("2026-03-01", "290.00"),),
}


@dataclass
class _Out:
    landing: Path
    files: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    def add(self, path: Path, kind: str, rows: int) -> None:
        self.files.append(path.relative_to(self.landing).as_posix())
        self.rows[kind] = self.rows.get(kind, 0) + rows


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def _dec(x: float, q: Decimal = _Q4) -> Decimal:
    """A float from the generator as a Decimal with a fixed number of places (deterministic)."""
    return Decimal(repr(x)).quantize(q, rounding=ROUND_HALF_EVEN)


def _s(d: Decimal | None) -> str | None:
    return None if d is None else format(d, "f")


def _month_days(month: str) -> list[date]:
    y, m = (int(p) for p in month.split("-"))
    return [date(y, m, d) for d in range(1, calendar.monthrange(y, m)[1] + 1)]


def _next_month_start(month: str) -> date:
    y, m = (int(p) for p in month.split("-"))
    return date(y + (m == 12), m % 12 + 1, 1)


def _ts(d: date) -> str:
    return f"{d.isoformat()}T00:00:00Z"


def _hex(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({c: ("" if r.get(c) is None else r[c]) for c in columns})


def _focus_frame(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([r.get(c) for r in rows], dtype="object") for c in columns})


def _copy_focus(df: pd.DataFrame, columns: tuple[str, ...], path: Path, fmt: str) -> None:
    """Write FOCUS rows with DuckDB: CSV.gz (every value as text) or Parquet (money DECIMAL(38,10))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    try:
        con.register("focus_rows", df)
        if fmt == "csv.gz":
            select = ", ".join(f'cast("{c}" as varchar) as "{c}"' for c in columns)
            con.execute(f"copy (select {select} from focus_rows) to '{path}' (header, compression gzip)")
        else:
            select = ", ".join(
                f'cast("{c}" as decimal(38,10)) as "{c}"'
                if c in FOCUS_DECIMAL_COLUMNS
                else f'cast("{c}" as varchar) as "{c}"'
                for c in columns
            )
            con.execute(
                f"copy (select {select} from focus_rows) to '{path}' (format parquet, compression zstd)"
            )
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------


class _Company:
    def __init__(self, seed: int, months: list[str]) -> None:
        self.rng = random.Random(seed)
        self.months = months
        # the month's activity level: each month a different one, 0.88 .. 1.13
        levels = [0.88, 0.93, 0.98, 1.03, 1.08, 1.13]
        self.rng.shuffle(levels)
        self.level = {
            m: _dec(levels[i % len(levels)] + self.rng.uniform(-0.015, 0.015)) for i, m in enumerate(months)
        }
        self.resource_ids = {}
        for r in (*AWS_RESOURCES, *ALI_RESOURCES):
            self.resource_ids[r.key] = [self._resource_id(r, i) for i in range(r.count)]
        self.people = self._people()
        self.fx = self._fx_rates()

    # ---- identities ------------------------------------------------------------------------

    def _resource_id(self, r: CloudResource, i: int) -> str:
        rng = self.rng
        acct = r.account[0]
        if r in ALI_RESOURCES:
            if r.resource_type == "Instance" and r.service == ECS:
                return f"i-{ALI_INSTANCE_PREFIX[r.region]}{_hex(rng, 17)}"
            if r.resource_type == "Bucket":
                return f"acs:oss:{r.region}:{acct}:{r.key}"
            return f"acs:{r.service.lower().replace(' ', '-')}:{r.region}:{acct}:{r.resource_type.lower()}/{r.key}-{i + 1}"
        if r.service == EC2:
            return f"arn:aws:ec2:{r.region}:{acct}:instance/i-0{_hex(rng, 16)}"
        if r.resource_type == "Bucket":
            return f"arn:aws:s3:::acme-{r.key}"
        svc = {
            SM: "sagemaker",
            "AWS Glue": "glue",
            "Elastic Load Balancing": "elasticloadbalancing",
            "Amazon Relational Database Service": "rds",
            "AmazonCloudWatch": "cloudwatch",
        }.get(r.service, "aws-marketplace")
        return f"arn:aws:{svc}:{r.region}:{acct}:{r.resource_type.lower()}/{r.key}-{i + 1}"

    def _people(self) -> list[Person]:
        rng = self.rng
        used: set[str] = set()
        people = []
        for i, (role, groups, models) in enumerate(STAFF_PLAN):
            while True:
                first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
                if f"{first} {last}" not in used:
                    used.add(f"{first} {last}")
                    break
            people.append(
                Person(
                    f"E{1001 + i}",
                    f"{first} {last}",
                    f"{first}.{last}@acme-shop.example".lower(),
                    role,
                    groups,
                    models,
                )
            )
        return people

    def _fx_rates(self) -> dict[date, Decimal]:
        # one USD->CNY rate a calendar day, a bounded random walk, from a month before the
        # first month to the end of the month after the last (invoices are dated after service)
        start = date.fromisoformat(self.months[0] + "-01") - timedelta(days=31)
        end = _next_month_start(self.months[-1])
        end = date(end.year, end.month, calendar.monthrange(end.year, end.month)[1])
        rate = 7.18
        rates = {}
        d = start
        while d <= end:
            rate = min(7.29, max(7.11, rate + self.rng.uniform(-0.012, 0.012)))
            rates[d] = _dec(rate)
            d += timedelta(days=1)
        return rates

    def rate_on(self, employee: Person, day: date) -> Decimal:
        def in_force(table: tuple[tuple[str, str], ...]) -> Decimal | None:
            found = None
            for eff, rate in table:
                if date.fromisoformat(eff) <= day:
                    found = Decimal(rate)
            return found

        own = in_force(EMPLOYEE_RATES.get(employee.employee_id, ()))
        return own if own is not None else in_force(ROLE_RATES[employee.role])  # type: ignore[return-value]

    # ---- FOCUS -----------------------------------------------------------------------------

    def _usage_lines(self, r: CloudResource, month: str, provider: str) -> list[dict[str, Any]]:
        """Daily usage lines of one resource for one month (one line per instance and day)."""
        rng = self.rng
        days = _month_days(month)
        level = self.level[month] if r.scaled else Decimal("1")
        month_noise = _dec(rng.uniform(0.94, 1.06))
        per_line = r.monthly * level * month_noise / len(days) / r.count
        lines = []
        for inst in range(r.count):
            for d in days:
                target = per_line * _dec(rng.uniform(0.85, 1.15))
                if provider == "aws" and r.commitment:
                    # covered by the Savings Plan: `target` is the amortised (effective) cost
                    sp_price = (r.unit_price * SAVINGS_PLAN_RATE).quantize(Decimal("0.000001"))
                    qty = (target / sp_price).quantize(_Q4)
                    list_cost = (qty * r.unit_price).quantize(_Q10)
                    eff = (qty * sp_price).quantize(_Q10)
                    line = {
                        "BilledCost": Decimal(0),
                        "EffectiveCost": eff,
                        "ListCost": list_cost,
                        "ContractedCost": list_cost,
                        "ListUnitPrice": r.unit_price,
                        "ContractedUnitPrice": r.unit_price,
                        "PricingCategory": "Committed",
                        "ChargeDescription": f"{r.sku} covered by Savings Plan",
                    }
                elif provider == "alibaba":
                    contracted = (r.unit_price * ALI_CONTRACT_DISCOUNT).quantize(Decimal("0.000001"))
                    qty = (target / contracted).quantize(_Q4)
                    list_cost = (qty * r.unit_price).quantize(_Q10)
                    cost = (qty * contracted).quantize(_Q10)
                    line = {
                        "BilledCost": cost,
                        "EffectiveCost": cost,
                        "ListCost": list_cost,
                        "ContractedCost": cost,
                        "ListUnitPrice": r.unit_price,
                        "ContractedUnitPrice": contracted,
                        "PricingCategory": "Standard",
                        "ChargeDescription": f"{r.service} {r.sku} pay-as-you-go",
                    }
                else:
                    qty = (target / r.unit_price).quantize(_Q4)
                    cost = (qty * r.unit_price).quantize(_Q10)
                    line = {
                        "BilledCost": cost,
                        "EffectiveCost": cost,
                        "ListCost": cost,
                        "ContractedCost": cost,
                        "ListUnitPrice": r.unit_price,
                        "ContractedUnitPrice": r.unit_price,
                        "PricingCategory": "Standard",
                        "ChargeDescription": f"{r.sku} on demand",
                    }
                line.update(self._resource_cols(r, inst, provider))
                line.update(
                    {
                        "ChargeCategory": "Usage",
                        "ChargeFrequency": "Usage-Based",
                        "ChargePeriodStart": _ts(d),
                        "ChargePeriodEnd": _ts(d + timedelta(days=1)),
                        "PricingQuantity": qty,
                        "PricingUnit": r.unit,
                        "ConsumedQuantity": qty,
                        "ConsumedUnit": r.unit,
                        "SkuId": r.sku,
                        "SkuPriceId": f"{r.sku}:{_s(r.unit_price)}",
                    }
                )
                lines.append(line)
        return lines

    def _resource_cols(self, r: CloudResource, inst: int, provider: str) -> dict[str, Any]:
        rid = self.resource_ids[r.key][inst]
        regions = AWS_REGION_NAMES if provider == "aws" else ALI_REGION_NAMES
        cols = {
            "SubAccountId": r.account[0],
            "SubAccountName": r.account[1],
            "ServiceName": r.service,
            "ServiceCategory": r.category,
            "ResourceId": rid,
            "ResourceName": f"{r.key}-{inst + 1}" if r.count > 1 else r.key,
            "ResourceType": r.resource_type,
            "RegionId": r.region,
            "RegionName": regions[r.region],
            "AvailabilityZone": f"{r.region}{'a' if provider == 'aws' else '-h'}"
            if r.category == "Compute"
            else None,
            "Tags": json.dumps(r.tags, sort_keys=True, separators=(",", ":")),
        }
        if r.publisher:
            cols["PublisherName"] = r.publisher
        if provider == "alibaba":
            cols["ServiceSubcategory"] = r.subcategory
            cols["SkuMeter"] = r.unit
        else:
            cols["x_ServiceCode"] = r.service.replace(" ", "")
            cols["x_UsageType"] = r.sku
            cols["x_Operation"] = "RunInstances" if r.service == EC2 else "Usage"
        return cols

    def aws_month(self, month: str) -> list[dict[str, Any]]:
        rng = self.rng
        lines: list[dict[str, Any]] = []
        for r in AWS_RESOURCES:
            lines.extend(self._usage_lines(r, month, "aws"))
        start, end = date.fromisoformat(month + "-01"), _next_month_start(month)
        sp_arn = f"arn:aws:savingsplans::{AWS_ML_PROD[0]}:savingsplan/6f1c2b9e-demo-4e2b-9d0a-compute"
        sp_cols = {
            "CommitmentDiscountId": sp_arn,
            "CommitmentDiscountType": "Savings Plan",
            "CommitmentDiscountCategory": "Spend",
            "CommitmentDiscountName": "ml-serving-compute-sp",
        }
        for line in lines:
            if line["PricingCategory"] == "Committed":
                line.update(sp_cols)
        covered = sum(
            (ln["EffectiveCost"] for ln in lines if ln["PricingCategory"] == "Committed"), Decimal(0)
        )
        month_cols = {
            "ChargePeriodStart": _ts(start),
            "ChargePeriodEnd": _ts(end),
            "Tags": "{}",
            "RegionId": None,
            "RegionName": None,
        }
        # The Savings Plan fee: billed this month, amortised onto the covered usage above.
        lines.append(
            {
                **month_cols,
                **sp_cols,
                "SubAccountId": AWS_ML_PROD[0],
                "SubAccountName": AWS_ML_PROD[1],
                "ChargeCategory": "Purchase",
                "ChargeFrequency": "Recurring",
                "ChargeDescription": "1 year No Upfront Compute Savings Plan, monthly fee",
                "ServiceName": "Savings Plans for AWS Compute usage",
                "ServiceCategory": "Compute",
                "ResourceId": sp_arn,
                "ResourceType": "SavingsPlan",
                "BilledCost": covered,
                "EffectiveCost": Decimal(0),
                "ListCost": covered,
                "ContractedCost": covered,
                "PricingCategory": "Committed",
                "PricingQuantity": Decimal(1),
                "PricingUnit": "Plan",
                "x_ServiceCode": "ComputeSavingsPlans",
                "x_UsageType": "ComputeSP:1yrNoUpfront",
                "x_Operation": "SavingsPlanRecurringFee",
            }
        )
        # The support plan: a monthly fee, shared evenly by cost_rules.yaml.
        support = (Decimal("1400") * self.level[month] * _dec(rng.uniform(0.97, 1.03))).quantize(_Q2)
        lines.append(
            {
                **month_cols,
                "SubAccountId": AWS_ML_PROD[0],
                "SubAccountName": AWS_ML_PROD[1],
                "ChargeCategory": "Purchase",
                "ChargeFrequency": "Recurring",
                "ChargeDescription": "AWS Support (Business) monthly fee",
                "ServiceName": "AWS Support (Business)",
                "ServiceCategory": "Management and Governance",
                "BilledCost": support,
                "EffectiveCost": support,
                "ListCost": support,
                "ContractedCost": support,
                "PricingQuantity": Decimal(1),
                "PricingUnit": "Month",
                "x_ServiceCode": "AWSSupportBusiness",
                "x_UsageType": "Dollar",
                "x_Operation": "Support",
            }
        )
        # Sales tax: no resource, no tags -> unallocated.
        tax = _dec(rng.uniform(140, 170), _Q2)
        lines.append(
            {
                **month_cols,
                "SubAccountId": AWS_ML_PROD[0],
                "SubAccountName": AWS_ML_PROD[1],
                "ChargeCategory": "Tax",
                "ChargeFrequency": "Recurring",
                "ChargeDescription": "Tax for product code AmazonEC2",
                "ServiceName": EC2,
                "ServiceCategory": "Compute",
                "BilledCost": tax,
                "EffectiveCost": tax,
                "ListCost": tax,
                "ContractedCost": tax,
                "x_ServiceCode": "AmazonEC2",
                "x_UsageType": "Tax",
                "x_Operation": "Tax",
            }
        )
        if month == self.months[min(2, len(self.months) - 1)]:
            # A promotional credit on the recommender's endpoint (tags of the resource).
            r = AWS_RESOURCES[6]
            credit = Decimal("-500.00")
            lines.append(
                {
                    **month_cols,
                    **self._resource_cols(r, 0, "aws"),
                    "ChargePeriodStart": _ts(start),
                    "ChargePeriodEnd": _ts(end),
                    "ChargeCategory": "Credit",
                    "ChargeFrequency": "One-Time",
                    "ChargeDescription": "AWS promotional credit for SageMaker inference",
                    "BilledCost": credit,
                    "EffectiveCost": credit,
                    "ListCost": Decimal(0),
                    "ContractedCost": Decimal(0),
                    "x_UsageType": "Credit",
                    "x_Operation": "Credit",
                }
            )
        for line in lines:
            line.update(
                {
                    "BillingAccountId": AWS_PAYER[0],
                    "BillingAccountName": AWS_PAYER[1],
                    "BillingCurrency": "USD",
                    "BillingPeriodStart": _ts(start),
                    "BillingPeriodEnd": _ts(end),
                    "ProviderName": "AWS",
                    "InvoiceIssuerName": "AWS",
                }
            )
            line.setdefault("PublisherName", "AWS")
        return lines

    def alibaba_month(self, month: str) -> list[dict[str, Any]]:
        rng = self.rng
        lines: list[dict[str, Any]] = []
        start, end = date.fromisoformat(month + "-01"), _next_month_start(month)
        days = _month_days(month)
        sub_id = f"ri-bp1{month.replace('-', '')}search"
        for r in ALI_RESOURCES:
            usage = self._usage_lines(r, month, "alibaba")
            if r.commitment:
                # A monthly subscription: the fee is billed on a Purchase line, and its cost is
                # spread over the covered instance-days (BilledCost 0, EffectiveCost > 0).
                fee = (r.monthly * self.level[month]).quantize(_Q2)
                share = (fee / len(usage)).quantize(_Q10)
                contracted = (r.unit_price * ALI_CONTRACT_DISCOUNT).quantize(Decimal("0.000001"))
                for i, ln in enumerate(usage):
                    eff = share if i < len(usage) - 1 else fee - share * (len(usage) - 1)
                    # a reserved instance-day: 24 hours whatever the load
                    ln.update(
                        {
                            "PricingQuantity": Decimal(24),
                            "ConsumedQuantity": Decimal(24),
                            "ListCost": r.unit_price * 24,
                            "ContractedCost": contracted * 24,
                        }
                    )
                    ln.update(
                        {
                            "BilledCost": Decimal(0),
                            "EffectiveCost": eff,
                            "PricingCategory": "Committed",
                            "CommitmentDiscountId": sub_id,
                            "CommitmentDiscountType": "Subscription",
                            "CommitmentDiscountCategory": "Usage",
                            "CommitmentDiscountName": "search-serving-monthly",
                            "CommitmentDiscountStatus": "Used",
                            "CommitmentDiscountQuantity": Decimal(24),
                            "CommitmentDiscountUnit": "Hour",
                            "ChargeDescription": f"{r.sku} covered by subscription",
                        }
                    )
                lines.extend(usage)
                lines.append(
                    {
                        **self._resource_cols(r, 0, "alibaba"),
                        "ResourceId": sub_id,
                        "ResourceName": "search-serving-monthly",
                        "ResourceType": "Subscription",
                        "ChargeCategory": "Purchase",
                        "ChargeFrequency": "Recurring",
                        "ChargePeriodStart": _ts(start),
                        "ChargePeriodEnd": _ts(end),
                        "ChargeDescription": f"Monthly subscription {r.sku} x{r.count}",
                        "BilledCost": fee,
                        "EffectiveCost": Decimal(0),
                        "ListCost": fee,
                        "ContractedCost": fee,
                        "PricingCategory": "Committed",
                        "PricingQuantity": Decimal(r.count * len(days) * 24),
                        "PricingUnit": "Hour",
                        "CommitmentDiscountId": sub_id,
                        "CommitmentDiscountType": "Subscription",
                        "CommitmentDiscountCategory": "Usage",
                        "CommitmentDiscountName": "search-serving-monthly",
                        "Tags": "{}",
                        "SkuId": r.sku,
                    }
                )
            else:
                lines.extend(usage)
        if month == self.months[min(4, len(self.months) - 1)]:
            adj = _dec(-rng.uniform(100, 140), _Q2)
            lines.append(
                {
                    "SubAccountId": ALI_AI[0],
                    "SubAccountName": ALI_AI[1],
                    "ChargeCategory": "Adjustment",
                    "ChargeClass": "Correction",
                    "ChargeFrequency": "One-Time",
                    "ServiceName": ECS,
                    "ServiceCategory": "Compute",
                    "ServiceSubcategory": "Virtual Machines",
                    "ChargePeriodStart": _ts(start),
                    "ChargePeriodEnd": _ts(end),
                    "ChargeDescription": "Rounding adjustment for the previous billing cycle",
                    "BilledCost": adj,
                    "EffectiveCost": adj,
                    "Tags": "{}",
                }
            )
        invoice_id = f"ALI-INV-{month.replace('-', '')}-0001"
        for ln in lines:
            ln.update(
                {
                    "BillingAccountId": ALI_PAYER[0],
                    "BillingAccountName": ALI_PAYER[1],
                    "BillingAccountType": "Billing Account",
                    "SubAccountType": "Member Account",
                    "BillingCurrency": "CNY",
                    "PricingCurrency": "CNY",
                    "BillingPeriodStart": _ts(start),
                    "BillingPeriodEnd": _ts(end),
                    "ProviderName": "Alibaba Cloud",
                    "PublisherName": "Alibaba Cloud",
                    "InvoiceIssuerName": "Alibaba Cloud",
                    "InvoiceId": invoice_id,
                    "PricingCurrencyListUnitPrice": ln.get("ListUnitPrice"),
                    "PricingCurrencyContractedUnitPrice": ln.get("ContractedUnitPrice"),
                    "PricingCurrencyEffectiveCost": ln.get("EffectiveCost"),
                }
            )
        return lines

    # ---- invoices --------------------------------------------------------------------------

    def invoices(self) -> dict[str, list[list[dict[str, Any]]]]:
        """vendor -> documents (each a list of line dicts) in the docs/formats.md line-item format."""
        rng = self.rng
        docs: dict[str, list[tuple[str, list[dict[str, Any]]]]] = {
            "annotate-pro": [],
            "crowdlabel": [],
            "datamart-feeds": [],
            "vectorops": [],
        }

        def doc(
            vendor: str,
            number: str,
            inv_date: date,
            lines: list[tuple],
            currency: str,
            revision: int = 1,
            doc_type: str = "invoice",
            fname: str | None = None,
        ) -> None:
            rows = []
            for i, (desc, p_start, p_end, qty, unit, price, model) in enumerate(lines, start=1):
                rows.append(
                    {
                        "vendor": vendor,
                        "invoice_number": number,
                        "invoice_date": inv_date.isoformat(),
                        "revision": revision,
                        "document_type": doc_type,
                        "line_number": i,
                        "description": desc,
                        "service_period_start": p_start.isoformat(),
                        "service_period_end": p_end.isoformat(),
                        "quantity": qty,
                        "unit": unit,
                        "unit_price": _s(price),
                        "amount": _s((Decimal(qty) * price).quantize(_Q2)),
                        "currency": currency,
                        "model_or_project": model,
                    }
                )
            docs[vendor].append((fname or number, rows))

        for n, month in enumerate(self.months):
            lvl = self.level[month]
            days = _month_days(month)
            first, last = days[0], days[-1]
            inv_date = _next_month_start(month) + timedelta(days=4)

            def q(base: int, lvl: Decimal = lvl) -> int:
                return int(Decimal(base) * lvl * _dec(rng.uniform(0.9, 1.1)))

            ref = lambda m: m if rng.random() < 0.6 else MODELS[m]  # noqa: E731 - id or project code
            doc(
                "annotate-pro",
                f"AP-2026-{51 + n:04d}",
                inv_date,
                [
                    (
                        "Search relevance judgements (3-way)",
                        first,
                        last,
                        q(42000),
                        "judgement",
                        Decimal("0.38"),
                        ref("search-rerank-bert"),
                    ),
                    (
                        "Product attribute annotation",
                        first,
                        last,
                        q(9000),
                        "item",
                        Decimal("1.10"),
                        ref("reco-llm"),
                    ),
                    (
                        "Feed engagement labels",
                        first,
                        last,
                        q(12000),
                        "session",
                        Decimal("0.55"),
                        ref("home-feed-personalizer"),
                    ),
                    (
                        "Ad creative safety review",
                        first,
                        last,
                        q(3500),
                        "creative",
                        Decimal("1.60"),
                        ref("ads-ctr-dcn"),
                    ),
                ],
                "CNY",
            )
            doc(
                "crowdlabel",
                f"CL-{10452 + n}",
                inv_date,
                [
                    (
                        "Query-product pair labeling",
                        first,
                        last,
                        q(21000),
                        "pair",
                        Decimal("0.06"),
                        ref("search-rerank-bert"),
                    ),
                    (
                        "LLM response preference ratings",
                        first,
                        last,
                        q(1800),
                        "comparison",
                        Decimal("0.45"),
                        ref("reco-llm"),
                    ),
                ],
                "USD",
            )
            data_lines = [
                (
                    "Competitor price feed, monthly subscription",
                    first,
                    last,
                    1,
                    "month",
                    Decimal("9800.00"),
                    ref("demand-forecast-tft"),
                ),
                (
                    "Clickstream panel data extract",
                    first,
                    last,
                    q(40),
                    "GB",
                    Decimal("180.00"),
                    ref("reco-llm"),
                ),
                (
                    "Holiday and weather calendar feed",
                    first,
                    last,
                    1,
                    "month",
                    Decimal("2400.00"),
                    ref("demand-forecast-tft"),
                ),
            ]
            if n == 3:
                # Revision 1 charged the panel extract at the wrong price; revision 2 (a second file)
                # replaces it.
                wrong = [list(x) for x in data_lines]
                wrong[1][5] = Decimal("280.00")
                doc(
                    "datamart-feeds",
                    f"DMF-{month.replace('-', '')}",
                    inv_date,
                    [tuple(x) for x in wrong],
                    "CNY",
                    fname=f"DMF-{month.replace('-', '')}",
                )
                doc(
                    "datamart-feeds",
                    f"DMF-{month.replace('-', '')}",
                    inv_date + timedelta(days=9),
                    data_lines,
                    "CNY",
                    revision=2,
                    fname=f"DMF-{month.replace('-', '')}-rev2",
                )
            else:
                doc("datamart-feeds", f"DMF-{month.replace('-', '')}", inv_date, data_lines, "CNY")
            doc(
                "vectorops",
                f"VO-{month.replace('-', '')}",
                inv_date,
                [
                    (
                        "VectorOps Serving Platform licence, search",
                        first,
                        last,
                        1,
                        "month",
                        Decimal("1200.00"),
                        "search-rerank-bert",
                    ),
                    (
                        "VectorOps Serving Platform licence, recommendations",
                        first,
                        last,
                        1,
                        "month",
                        Decimal("1350.00"),
                        "reco-llm",
                    ),
                    (
                        "VectorOps feature store seats",
                        first,
                        last,
                        q(9),
                        "seat",
                        Decimal("55.00"),
                        "home-feed-personalizer",
                    ),
                ],
                "USD",
            )
            if n == 1 and len(self.months) > 2:
                # A labeling campaign from mid-month to mid-month: pro-rated over the two months.
                nxt = _month_days(self.months[n + 1])
                doc(
                    "crowdlabel",
                    f"CL-{10452 + 50}",
                    nxt[14] + timedelta(days=5),
                    [
                        (
                            "Back-to-school campaign: ad relevance labeling",
                            days[15],
                            nxt[14],
                            26000,
                            "pair",
                            Decimal("0.07"),
                            "PRJ-ADS-CTR",
                        ),
                    ],
                    "USD",
                )
            if n == 4:
                # An SLA credit note on the month's software licence (amounts printed positive).
                doc(
                    "vectorops",
                    "VO-CN-0007",
                    inv_date + timedelta(days=2),
                    [
                        (
                            "SLA credit: serving platform outage",
                            first,
                            last,
                            1,
                            "credit",
                            Decimal("450.00"),
                            "reco-llm",
                        ),
                    ],
                    "USD",
                    doc_type="credit_note",
                )
        return docs

    # ---- time logs -------------------------------------------------------------------------

    def time_logs(self, month: str) -> list[dict[str, Any]]:
        rng = self.rng
        days = _month_days(month)
        workdays = [d for d in days if d.weekday() < 5]
        booked: dict[tuple[str, date], Decimal] = {}
        entries = []
        for group, activities in ACTIVITY_GROUPS.items():
            crew = [p for p in self.people if group in p.groups]
            target = PEOPLE_TARGETS[group] * self.level[month] * _dec(rng.uniform(0.93, 1.07))
            spent = Decimal(0)
            while spent < target:
                p = rng.choice(crew)
                acts = activities
                if group == "labeled":
                    acts = ("annotation",) if p.role == "annotator" else ("label_review",)
                activity = rng.choice(acts)
                pool = days if activity == "on_call" else workdays
                day = rng.choice(pool)
                hours = Decimal(rng.choice(range(2, 13))) / 2  # 1.0 .. 6.0
                if booked.get((p.employee_id, day), Decimal(0)) + hours > 10:
                    continue
                booked[(p.employee_id, day)] = booked.get((p.employee_id, day), Decimal(0)) + hours
                model = rng.choice(p.models)
                entries.append(
                    {
                        "employee_id": p.employee_id,
                        "employee_name": p.name,
                        "employee_email": p.email,
                        "role": p.role,
                        "work_date": day.isoformat(),
                        "hours": _s(hours),
                        "activity": activity,
                        "model_or_project": model if rng.random() < 0.75 else MODELS[model],
                    }
                )
                spent += hours * self.rate_on(p, day)
        entries.sort(key=lambda e: (e["work_date"], e["employee_id"], e["activity"], e["model_or_project"]))
        return entries


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def generate(landing: Path, seed: int = DEFAULT_SEED, months: list[str] | None = None) -> dict[str, Any]:
    """Write the demo company into ``landing`` (files are overwritten, others left alone).

    Returns a summary: the months, the files written (relative to ``landing``) and row counts.
    The same seed and months give byte-identical files.
    """
    landing = Path(landing)
    months = list(months or DEFAULT_MONTHS)
    for m in months:
        date.fromisoformat(m + "-01")  # a bad month fails here, before anything is written
    co = _Company(seed, months)
    out = _Out(landing)

    # FOCUS: AWS (1.0, CSV.gz + manifest) and Alibaba Cloud (1.2, Parquet)
    export_arn = f"arn:aws:bcm-data-exports:us-east-1:{AWS_PAYER[0]}:export/{AWS_EXPORT}-{_hex(co.rng, 8)}"
    for month in months:
        rows = co.aws_month(month)
        part = f"BILLING_PERIOD={month}"
        base = landing / "focus" / "aws-focus" / AWS_EXPORT
        data_file = base / "data" / part / f"{AWS_EXPORT}-00001.csv.gz"
        _copy_focus(
            _focus_frame(FOCUS_10_COLUMNS, [_strs(r) for r in rows]), FOCUS_10_COLUMNS, data_file, "csv.gz"
        )
        out.add(data_file, "focus_aws", len(rows))
        manifest = {
            "executionId": f"{_hex(co.rng, 8)}-{_hex(co.rng, 4)}-{_hex(co.rng, 4)}-{_hex(co.rng, 4)}-{_hex(co.rng, 12)}",
            "exportArn": export_arn,
            "columns": [{"name": c, "type": _manifest_type(c)} for c in FOCUS_10_COLUMNS],
            "dataFiles": [f"s3://{AWS_BUCKET}/{AWS_PREFIX}/{AWS_EXPORT}/data/{part}/{data_file.name}"],
            "additionalOutputFiles": [],
        }
        mpath = base / "metadata" / part / f"{AWS_EXPORT}-Manifest.json"
        mpath.parent.mkdir(parents=True, exist_ok=True)
        mpath.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        out.add(mpath, "manifests", 1)

        ali = co.alibaba_month(month)
        apath = landing / "focus" / "alibaba" / f"alibaba-focus-1.2-{month}.parquet"
        _copy_focus(
            _focus_frame(FOCUS_12_COLUMNS, [_strs(r) for r in ali]), FOCUS_12_COLUMNS, apath, "parquet"
        )
        out.add(apath, "focus_alibaba", len(ali))

    # The ML lab's native CUR 2.0 (CSV.gz + manifest), from a generator of its own so the files
    # above stay byte-identical to what they were before it existed
    cur_rng = random.Random(seed * 7919 + 11)
    for month in months:
        part = f"BILLING_PERIOD={month}"
        base = landing / "aws_cur" / CUR_EXPORT
        rows = _cur_month(cur_rng, month)
        data_file = base / "data" / part / f"{CUR_EXPORT}-00001.csv.gz"
        _write_csv_gz(data_file, CUR_COLUMNS, rows)
        out.add(data_file, "aws_cur", len(rows))
        y, m = (int(x) for x in month.split("-"))
        manifest = {
            "executionId": f"{month}-{_hex(cur_rng, 8)}",
            "exportName": CUR_EXPORT,
            "billingPeriod": {"year": y, "month": m},
            "dataFiles": [f"s3://{CUR_BUCKET}/cur2/{CUR_EXPORT}/data/{part}/{data_file.name}"],
        }
        mpath = base / "metadata" / part / f"{CUR_EXPORT}-Manifest.json"
        mpath.parent.mkdir(parents=True, exist_ok=True)
        mpath.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        out.add(mpath, "manifests", 1)

    # Vendor invoices, one file per document. Two labeling vendors send their last invoice as
    # they would in real life: AnnotatePro as a workbook, CrowdLabel as a PDF (examples/demo/documents.py).
    for vendor, documents in co.invoices().items():
        for i, (fname, rows) in enumerate(documents):
            last = i == len(documents) - 1
            if vendor == "annotate-pro" and last:
                path = landing / "invoices" / vendor / f"{fname}.xlsx"
                write_xlsx_invoice(path, rows, "AnnotatePro Data Services")
            elif vendor == "crowdlabel" and last:
                path = landing / "invoices" / vendor / f"{fname}.pdf"
                write_pdf_invoice(path, rows, "CrowdLabel Ltd.")
            else:
                path = landing / "invoices" / vendor / f"{fname}.csv"
                _write_csv(path, INVOICE_COLUMNS, rows)
            out.add(path, "invoice_lines", len(rows))

    # Time logs: one export a month, plus a later correction export restating one person-day
    last_entries: list[dict[str, Any]] = []
    tempo_roles: dict[str, str] = {}
    for k, month in enumerate(months):
        entries = co.time_logs(month)
        if k == 0:
            # In the first month two teams still log in their own trackers: a third of the people
            # in Jira Tempo, a third in Harvest; their exports land as exported.
            ids = sorted({e["employee_id"] for e in entries})
            tempo_ids, harvest_ids = set(ids[0::3]), set(ids[1::3])
            tempo_roles = {e["employee_id"]: e["role"] for e in entries if e["employee_id"] in tempo_ids}
            tempo = [e for e in entries if e["employee_id"] in tempo_ids]
            harvest = [e for e in entries if e["employee_id"] in harvest_ids]
            entries = [e for e in entries if e["employee_id"] not in tempo_ids | harvest_ids]
            path = landing / "timesheets" / "tempo" / f"tempo-worklogs-{month}.csv"
            write_tempo(path, tempo, {})
            out.add(path, "timesheet_entries", len(tempo))
            path = landing / "timesheets" / "harvest" / f"harvest_time_report_{month}.csv"
            write_harvest(path, harvest, {})
            out.add(path, "timesheet_entries", len(harvest))
        exported = f"{_next_month_start(month).isoformat()}T01:30:00Z"
        for e in entries:
            e["exported_at"] = exported
        path = landing / "timesheets" / f"timelog_{month}.csv"
        _write_csv(path, TIMESHEET_COLUMNS, entries)
        out.add(path, "timesheet_entries", len(entries))
        last_entries = entries
    day_key = (
        last_entries[len(last_entries) // 2]["employee_id"],
        last_entries[len(last_entries) // 2]["work_date"],
    )
    restated = [dict(e) for e in last_entries if (e["employee_id"], e["work_date"]) == day_key]
    restated[0]["hours"] = _s(min(Decimal(restated[0]["hours"]) + 1, Decimal(8)))
    when = _next_month_start(months[-1]) + timedelta(days=2)
    for e in restated:
        e["exported_at"] = f"{when.isoformat()}T09:00:00Z"
    path = landing / "timesheets" / f"timelog_{months[-1]}_correction.csv"
    _write_csv(path, TIMESHEET_COLUMNS, restated)
    out.add(path, "timesheet_entries", len(restated))

    # Loaded hourly rates, effective-dated
    role_rows = [
        {"employee_id": None, "role": role, "effective_from": eff, "hourly_rate": rate, "currency": "CNY"}
        for role, table in ROLE_RATES.items()
        for eff, rate in table
    ]
    path = landing / "hr_rates" / "rates_by_role.csv"
    _write_csv(path, HR_RATE_COLUMNS, role_rows)
    out.add(path, "hr_rates", len(role_rows))
    # A Tempo worklog names no role: the people who log there have their rate by employee id
    # (their role's rates, raise included) unless they have their own already.
    own_rates = dict(EMPLOYEE_RATES)
    for emp, role in sorted(tempo_roles.items()):
        own_rates.setdefault(emp, ROLE_RATES[role])
    emp_rows = [
        {"employee_id": emp, "role": None, "effective_from": eff, "hourly_rate": rate, "currency": "CNY"}
        for emp, table in own_rates.items()
        for eff, rate in table
    ]
    path = landing / "hr_rates" / "rates_by_employee.csv"
    _write_csv(path, HR_RATE_COLUMNS, emp_rows)
    out.add(path, "hr_rates", len(emp_rows))

    # FX: daily USD -> CNY
    fx_rows = [
        {"rate_date": d.isoformat(), "from_currency": "USD", "to_currency": "CNY", "rate": _s(r)}
        for d, r in sorted(co.fx.items())
    ]
    path = landing / "fx_rates" / "usd_cny_daily.csv"
    _write_csv(path, FX_COLUMNS, fx_rows)
    out.add(path, "fx_rates", len(fx_rows))

    # Budgets: the stage split (the seed's worked example) and two leaf budgets
    stage_rows = [
        {
            "month": m,
            "stage": stage,
            "leaf": None,
            "model_id": None,
            "currency": "CNY",
            "amount": _s((MONTHLY_BUDGET * share).quantize(_Q2)),
        }
        for m in months
        for stage, share in STAGE_SPLIT
    ]
    path = landing / "budgets" / "stage_budgets.csv"
    _write_csv(path, BUDGET_COLUMNS, stage_rows)
    out.add(path, "budgets", len(stage_rows))
    leaf_rows = [
        {
            "month": m,
            "stage": stage,
            "leaf": leaf,
            "model_id": None,
            "currency": "CNY",
            "amount": _s(amount.quantize(_Q2)),
        }
        for m in months
        for stage, leaf, amount in LEAF_BUDGETS
    ]
    path = landing / "budgets" / "leaf_budgets.csv"
    _write_csv(path, BUDGET_COLUMNS, leaf_rows)
    out.add(path, "budgets", len(leaf_rows))

    # GPU-hours from the scheduler, for the shared GPU pool split
    for month in months:
        rows = [
            {
                "month": month,
                "model_id": m,
                "metric": "gpu_hours",
                "value": _s(_dec(co.rng.uniform(80, 520), Decimal("0.1"))),
            }
            for m in GPU_POOL_MODELS
        ]
        path = landing / "metrics" / f"gpu_hours_{month}.csv"
        _write_csv(path, METRIC_COLUMNS, rows)
        out.add(path, "usage_metrics", len(rows))

    _owned_hardware(landing, out, months)
    _business_metrics(landing, out, seed, months)

    return {
        "landing": str(landing),
        "seed": seed,
        "months": months,
        "files": out.files,
        "rows": out.rows,
        "people": len(co.people),
        "models": list(MODELS),
    }


ASSET_COLUMNS = (
    "asset_id",
    "description",
    "purchase_date",
    "in_service_date",
    "cost",
    "currency",
    "useful_life_months",
    "salvage_value",
    "serves",
    "leaf",
    "effective_month",
    "disposal_date",
    "disposal_proceeds",
    "contract_id",
    "contract_start",
    "contract_end",
    "contract_amount",
)
# The company's own GPU servers (landing/assets/register.csv): bought, depreciated over 3 years.
# GPU-SRV-01's life is extended to 4 years from August; OLD-SRV-07 is sold in September; the
# training node sits in the shared GPU pool (split by GPU-hours like the pool's cloud cost).
ASSETS = (
    (
        "GPU-SRV-01",
        "8x A100 search inference server",
        "2025-10-20",
        "2025-11-15",
        "600000.00",
        "CNY",
        36,
        "60000.00",
        "search-rerank-bert",
        "hardware",
        None,
        None,
        None,
    ),
    (
        "GPU-SRV-01",
        "8x A100 search inference server",
        "2025-10-20",
        "2025-11-15",
        "600000.00",
        "CNY",
        48,
        "60000.00",
        "search-rerank-bert",
        "hardware",
        "2026-08",
        None,
        None,
    ),
    (
        "GPU-SRV-02",
        "8x L40S ads inference server",
        "2026-05-12",
        "2026-06-01",
        "480000.00",
        "CNY",
        36,
        "40000.00",
        "ads-ctr-dcn",
        "hardware",
        None,
        None,
        None,
    ),
    (
        "TRAIN-NODE-01",
        "4x H100 fine-tuning node",
        "2026-02-10",
        "2026-03-01",
        "30000.00",
        "USD",
        36,
        "0",
        "pool:shared-gpu",
        "tuning_resources",
        None,
        None,
        None,
    ),
    (
        "OLD-SRV-07",
        "V100 recommender serving box",
        "2023-05-01",
        "2023-06-01",
        "240000.00",
        "CNY",
        48,
        "0",
        "reco-llm",
        "hardware",
        None,
        "2026-09-20",
        "40000.00",
    ),
)
# (asset, contract, start, end, amount CNY): hardware support, pro-rated by days like an invoice
ASSET_CONTRACTS = (("GPU-SRV-02", "HW-SUP-2026", "2026-06-01", "2027-05-31", "48000.00"),)


def _owned_hardware(landing: Path, out: _Out, months: list[str]) -> None:
    """landing/assets/register.csv: the asset register and its maintenance contracts."""
    rows: list[dict[str, Any]] = [
        dict(zip(ASSET_COLUMNS[:13], (*a[:6], str(a[6]), *a[7:]), strict=True)) for a in ASSETS
    ]
    for asset, contract, start, end, amount in ASSET_CONTRACTS:
        rows.append(
            {
                "asset_id": asset,
                "description": "hardware support contract",
                "currency": "CNY",
                "contract_id": contract,
                "contract_start": start,
                "contract_end": end,
                "contract_amount": amount,
            }
        )
    path = landing / "assets" / "register.csv"
    _write_csv(path, ASSET_COLUMNS, rows)
    out.add(path, "assets", len(rows))


BUSINESS_METRIC_COLUMNS = ("month", "model_or_scenario", "metric", "value", "currency")
# (model or scenario, metric, monthly volume in the first month, monthly growth, currency)
BUSINESS_METRICS = (
    ("search-rerank-bert", "searches", 310_000_000, 0.03, None),
    ("reco-llm", "recommendations", 520_000_000, 0.04, None),
    ("home-feed-personalizer", "recommendations", 840_000_000, 0.02, None),
    ("ads-ctr-dcn", "ad_impressions", 1_250_000_000, 0.025, None),
    ("demand-forecast-tft", "forecasts", 2_400_000, 0.01, None),
    ("search_ranking", "orders", 1_150_000, 0.02, None),
    ("search_ranking", "gmv", 260_000_000, 0.02, "CNY"),
    ("product_recommendation", "orders", 640_000, 0.03, None),
    ("product_recommendation", "gmv", 132_000_000, 0.03, "CNY"),
    ("personalized_recommendation", "orders", 410_000, 0.02, None),
    ("personalized_recommendation", "gmv", 88_000_000, 0.02, "CNY"),
    ("ad_serving", "orders", 220_000, 0.02, None),
    ("ad_serving", "gmv", 51_000_000, 0.02, "CNY"),
)


def _business_metrics(landing: Path, out: _Out, seed: int, months: list[str]) -> None:
    """landing/business_metrics/: volumes and GMV per model or scenario and month, for unit cost.

    Their own random stream, so the other files stay what they were for a seed."""
    rng = random.Random(seed * 7919 + 13)
    rows = []
    for i, month in enumerate(months):
        # November's shopping festival lifts every volume
        season = 1.35 if month.endswith("-11") else 1.0
        for subject, metric, base, growth, ccy in BUSINESS_METRICS:
            value = base * (1 + growth) ** i * season * rng.uniform(0.97, 1.03)
            q = _Q2 if metric == "gmv" else Decimal(1)
            rows.append(
                {
                    "month": month,
                    "model_or_scenario": subject,
                    "metric": metric,
                    "value": _s(Decimal(str(value)).quantize(q)),
                    "currency": ccy,
                }
            )
        # one dedicated GPU per model in the shared pool (720 hours a month): what gpu_hours fill of it
        for model in GPU_POOL_MODELS:
            rows.append(
                {
                    "month": month,
                    "model_or_scenario": model,
                    "metric": "gpu_hours_provisioned",
                    "value": "720",
                    "currency": None,
                }
            )
    path = landing / "business_metrics" / "business_metrics.csv"
    _write_csv(path, BUSINESS_METRIC_COLUMNS, rows)
    out.add(path, "business_metrics", len(rows))


def _cur_month(rng: random.Random, month: str) -> list[dict[str, Any]]:
    """One month of the ML lab's CUR 2.0: tagged SageMaker training and Bedrock tokens, Savings
    Plan covered inference (its negation and the plan's recurring fee), and tax."""
    start = date.fromisoformat(month + "-01")
    end = _next_month_start(month)
    ts = lambda d: f"{d.isoformat()}T00:00:00.000Z"  # noqa: E731
    sp_arn = f"arn:aws:savingsplans::{CUR_PAYER[0]}:savingsplan/{_hex(rng, 8)}-{_hex(rng, 4)}"
    base = {
        "bill_bill_type": "Anniversary",
        "bill_billing_entity": "AWS",
        "bill_billing_period_start_date": ts(start),
        "bill_billing_period_end_date": ts(end),
        "bill_invoicing_entity": "Amazon Web Services, Inc.",
        "bill_payer_account_id": CUR_PAYER[0],
        "bill_payer_account_name": CUR_PAYER[1],
        "line_item_currency_code": "USD",
        "line_item_usage_account_id": "334455667788",
        "product_region_code": "us-east-1",
        "line_item_usage_start_date": ts(start),
        "line_item_usage_end_date": ts(end),
    }

    def tags(model: str, leaf: str) -> str:
        return json.dumps({"user_cl-model": model, "user_cl-leaf": leaf}, separators=(",", ":"))

    hours = _dec(rng.uniform(40, 70), Decimal("1"))
    train = (hours * Decimal("37.688")).quantize(_Q4)
    tokens = _dec(rng.uniform(20, 40), Decimal("0.1")) * 1000000
    bedrock = (tokens * Decimal("0.000015")).quantize(_Q4)
    covered = _dec(rng.uniform(300, 360), Decimal("1"))
    sp_effective = (covered * Decimal("0.72")).quantize(_Q4)
    rows = [
        {
            **base,
            "line_item_line_item_type": "Usage",
            "line_item_product_code": "AmazonSageMaker",
            "line_item_usage_type": "USE1-ml.p4d.24xlarge-Training",
            "line_item_resource_id": "arn:aws:sagemaker:us-east-1:334455667788:training-job/reco-llm-pretrain",
            "line_item_usage_amount": hours,
            "pricing_unit": "Hrs",
            "line_item_unblended_cost": train,
            "resource_tags": tags("reco-llm", "training"),
        },
        {
            **base,
            "line_item_line_item_type": "Usage",
            "line_item_product_code": "AmazonBedrock",
            "line_item_usage_type": "USE1-Claude-input-tokens",
            "line_item_usage_amount": tokens,
            "pricing_unit": "Tokens",
            "line_item_unblended_cost": bedrock,
            "resource_tags": tags("home-feed-personalizer", "software"),
        },
        {
            **base,
            "line_item_line_item_type": "SavingsPlanCoveredUsage",
            "line_item_product_code": "AmazonSageMaker",
            "line_item_usage_type": "USE1-ml.g5.2xlarge-Hosting",
            "line_item_resource_id": "arn:aws:sagemaker:us-east-1:334455667788:endpoint/search-rerank",
            "line_item_usage_amount": Decimal(720),
            "pricing_unit": "Hrs",
            "line_item_unblended_cost": covered,
            "savings_plan_savings_plan_a_r_n": sp_arn,
            "savings_plan_savings_plan_effective_cost": sp_effective,
            "resource_tags": tags("search-rerank-bert", "hardware"),
        },
        {
            **base,
            "line_item_line_item_type": "SavingsPlanNegation",
            "line_item_product_code": "AmazonSageMaker",
            "line_item_usage_type": "USE1-ml.g5.2xlarge-Hosting",
            "line_item_unblended_cost": -covered,
            "savings_plan_savings_plan_a_r_n": sp_arn,
        },
        {
            **base,
            "line_item_line_item_type": "SavingsPlanRecurringFee",
            "line_item_product_code": "ComputeSavingsPlans",
            "line_item_usage_type": "ComputeSP:1yrNoUpfront",
            "line_item_unblended_cost": Decimal("263.47"),
            "savings_plan_savings_plan_a_r_n": sp_arn,
            "savings_plan_total_commitment_to_date": Decimal("263.47"),
            "savings_plan_used_commitment": min(sp_effective, Decimal("263.47")),
            "resource_tags": tags("search-rerank-bert", "hardware"),
        },
    ]
    taxable = sum(r["line_item_unblended_cost"] for r in rows)
    rows.append(
        {
            **base,
            "line_item_line_item_type": "Tax",
            "line_item_product_code": "AmazonSageMaker",
            "line_item_usage_type": "",
            "line_item_unblended_cost": (taxable * Decimal("0.06")).quantize(_Q4),
            "line_item_line_item_description": "Tax for product code AmazonSageMaker",
        }
    )
    for r in rows:
        r["identity_line_item_id"] = _hex(rng, 40)
    return rows


def _write_csv_gz(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """CSV.gz as AWS Data Exports writes it, byte-identical for the same rows (gzip mtime 0)."""
    import gzip
    import io

    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(_strs(r))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(text.getvalue().encode("utf-8"))


def _strs(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (_s(v) if isinstance(v, Decimal) else (None if v is None else str(v))) for k, v in row.items()}


def _manifest_type(column: str) -> str:
    if column in FOCUS_DECIMAL_COLUMNS:
        return "decimal"
    if column.endswith(("PeriodStart", "PeriodEnd")):
        return "timestamp"
    if column == "Tags":
        return "map<string,string>"
    return "string"


def main(argv: list[str] | None = None) -> int:
    """``python examples/demo/generate.py [--landing DIR] [--seed N] [--months 2026-05,...]``"""
    ap = argparse.ArgumentParser(prog="python examples/demo/generate.py", description=__doc__.splitlines()[0])
    ap.add_argument(
        "--landing",
        default=os.environ.get("COSTLEDGER_LANDING") or "landing",
        help="landing folder to write into (default: $COSTLEDGER_LANDING or ./landing)",
    )
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--months", help="comma-separated YYYY-MM (default: 2026-05 .. 2026-10)")
    args = ap.parse_args(argv)
    months = [m.strip() for m in args.months.split(",")] if args.months else None
    try:
        summary = generate(Path(args.landing), seed=args.seed, months=months)
    except ValueError as exc:
        print(f"costledger demo: {exc}", file=sys.stderr)
        return 2
    print(
        f"demo company written to {summary['landing']}: {len(summary['files'])} files, "
        f"months {summary['months'][0]} .. {summary['months'][-1]}"
    )
    for kind, n in sorted(summary["rows"].items()):
        print(f"  {kind:<18} {n:>7} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
