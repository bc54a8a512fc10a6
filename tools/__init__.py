"""Commands beside the lessons: dashboards and servers, and stale-run clean-up."""
