"""The layer the CLI and the DAGs call: `steps` (one function per step, each under the run
lock), `runs` (run lifecycle, "nothing new"), `status`, `schedule` (which month a run covers),
`logs`, `cli` (`costledger`) and `airflow_smtp` (an Airflow connection -> SMTP settings, without
importing Airflow)."""
