"""Run probes through Great Expectations Core 1.x: an ephemeral context, pandas batches, no YAML.

GX is imported inside the functions (it costs ~4 s); the import happens once per process.
"""

from __future__ import annotations

import logging
import os

from pipeline.quality.model import Outcome, Probe

log = logging.getLogger(__name__)


def new_context():
    """A batch definition in an in-memory GX context with analytics and progress bars off (nothing leaves the machine)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    # One asset and batch definition for all frames: registering an asset per frame makes GX
    # re-serialise its config each time (most of a gate's cost on small frames).
    asset = context.data_sources.add_pandas("costledger").add_dataframe_asset("frames")
    return asset.add_batch_definition_whole_dataframe("whole")


def _key(config) -> tuple:
    """Match a result to its check: expectation type + kwargs (ids are unset in an ephemeral suite)."""
    return config.type, repr(sorted((k, repr(v)) for k, v in config.kwargs.items() if k != "batch_id"))


def validate_probe(batch_definition, probe: Probe, stage: str) -> list[Outcome]:
    """Validate one probe's frame against its suite; one Outcome per expectation."""
    import great_expectations as gx

    if not probe.checks:
        return []
    suite_name = f"{probe.table}:{probe.name}"
    suite = gx.ExpectationSuite(name=suite_name)
    by_key = {}
    for check in probe.checks:
        check.expectation.severity = check.severity
        suite.add_expectation(check.expectation)
        by_key[_key(check.expectation.configuration)] = check
    batch = batch_definition.get_batch(batch_parameters={"dataframe": probe.frame})
    # People tables: GX keeps no unexpected values, counts or indexes in its result.
    result_format = "BOOLEAN_ONLY" if probe.people else "SUMMARY"
    validation = batch.validate(suite, result_format=result_format)

    outcomes = []
    for res in validation.results:
        check = by_key[_key(res.expectation_config)]
        if res.exception_info and res.exception_info.get("raised_exception"):
            # A check that cannot run is a failed check, never a silent pass.
            success = False
            observed = (
                f"the check could not run: {str(res.exception_info.get('exception_message')).splitlines()[0]}"
            )
        elif res.success:
            kw = res.expectation_config.kwargs
            judged = kw.get("column") or "/".join(str(kw[k]) for k in ("column_A", "column_B") if k in kw)
            success = True
            if judged:
                observed = f"ok: {judged} over {len(probe.frame)} {probe.name} rows"
            else:
                observed = f"ok: {len(probe.frame.columns)} columns"
        else:
            success = False
            try:
                observed = check.explain(probe.frame)
            except Exception as exc:  # an explanation must never hide the failure itself
                observed = f"failed (no detail: {type(exc).__name__} while describing it)"
        outcomes.append(
            Outcome(
                stage=stage,
                table_name=probe.table,
                check_name=check.name,
                severity=check.severity,
                success=bool(success),
                observed=observed,
                column=check.column,
            )
        )
    return outcomes
