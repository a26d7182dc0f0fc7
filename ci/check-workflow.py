#!/usr/bin/env python3
"""check-workflow.py: the CI matrix parses as YAML, and every job runs the test script."""
import sys

import yaml

path = sys.argv[1] if len(sys.argv) > 1 else ".github/workflows/ci.yml"
with open(path) as f:
    wf = yaml.safe_load(f)
jobs = wf.get("jobs") or {}
bad = []
for name, job in jobs.items():
    runs = " ".join(step.get("run", "") for step in job.get("steps", []))
    if "ci/test.sh" not in runs and "ci/test-msvc.sh" not in runs:
        bad.append(name)
    if "strategy" in job and job["strategy"].get("fail-fast", True):
        bad.append(name + " (fail-fast must be false)")
if not jobs or bad:
    sys.exit("%s: jobs that do not run the tests: %s" % (path, ", ".join(bad) or "none at all"))
print("%s: %d jobs, each runs the test script" % (path, len(jobs)))
