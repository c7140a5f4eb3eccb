"""costledger: the monthly cost ledger of e-commerce AI models (no Airflow imports here)."""

__version__ = "0.1.0"
