"""The recorded metrics on ``/metrics``: Ray agents' pages merged, each family's HELP and TYPE
once, every other family (Ray's own) left out."""

from __future__ import annotations

from serve.metrics import Observation, exposition, merge_recorded

NODE_A = """# HELP ray_raytrader_step_latency_seconds one step
# TYPE ray_raytrader_step_latency_seconds histogram
ray_raytrader_step_latency_seconds_bucket{WorkerId="a",le="0.1"} 1.0
ray_raytrader_step_latency_seconds_bucket{WorkerId="a",le="+Inf"} 2.0
ray_raytrader_step_latency_seconds_count{WorkerId="a"} 2.0
ray_raytrader_step_latency_seconds_sum{WorkerId="a"} 0.35
# HELP ray_tasks Ray's own
# TYPE ray_tasks gauge
ray_tasks{State="RUNNING"} 3.0
"""
NODE_B = """# HELP ray_raytrader_risk_decisions_total risk decisions
# TYPE ray_raytrader_risk_decisions_total counter
ray_raytrader_risk_decisions_total{outcome="DENIED",reason="CORRELATION"} 4.0
# HELP ray_raytrader_step_latency_seconds one step
# TYPE ray_raytrader_step_latency_seconds histogram
ray_raytrader_step_latency_seconds_count{WorkerId="b"} 1.0
"""


def test_pages_merge_into_one_family_each_without_rays_own() -> None:
    merged = merge_recorded([NODE_A, NODE_B, ""])
    lines = merged.splitlines()
    assert lines == [
        "# HELP ray_raytrader_risk_decisions_total risk decisions",
        "# TYPE ray_raytrader_risk_decisions_total counter",
        'ray_raytrader_risk_decisions_total{outcome="DENIED",reason="CORRELATION"} 4.0',
        "# HELP ray_raytrader_step_latency_seconds one step",
        "# TYPE ray_raytrader_step_latency_seconds histogram",
        'ray_raytrader_step_latency_seconds_bucket{WorkerId="a",le="0.1"} 1.0',
        'ray_raytrader_step_latency_seconds_bucket{WorkerId="a",le="+Inf"} 2.0',
        'ray_raytrader_step_latency_seconds_count{WorkerId="a"} 2.0',
        'ray_raytrader_step_latency_seconds_sum{WorkerId="a"} 0.35',
        'ray_raytrader_step_latency_seconds_count{WorkerId="b"} 1.0',
    ]


def test_the_exposition_ends_with_the_recorded_families() -> None:
    text = exposition(Observation(recorded=merge_recorded([NODE_B]))).decode()
    assert text.startswith("# HELP raytrader_source_up")
    assert text.endswith('ray_raytrader_step_latency_seconds_count{WorkerId="b"} 1.0\n')
