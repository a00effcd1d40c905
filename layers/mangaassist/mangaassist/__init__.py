"""MangaAssist's fault-tolerance backbone: registry, fleet-wide breaker, capability-aware chat."""
