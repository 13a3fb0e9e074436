"""Database and queue housekeeping behind the scheduled maintenance jobs: `purge` removes rows in batches,
`database` vacuums and measures the tables, `queues` counts RQ jobs, `metrics` stores what was measured."""

# One audit action per job; the sync-health page lists these as the maintenance history.
ACTIONS = {
    "purge-deleted-events": "MAINTENANCE_PURGE_EVENTS",
    "vacuum-analyze": "MAINTENANCE_VACUUM_ANALYZE",
    "refresh-table-statistics": "MAINTENANCE_TABLE_STATISTICS",
    "purge-oauth-states": "MAINTENANCE_PURGE_OAUTH_STATES",
    "purge-dead-links": "MAINTENANCE_PURGE_DEAD_LINKS",
    "archive-audit-logs": "MAINTENANCE_ARCHIVE_AUDIT_LOGS",
    "record-health-metrics": "MAINTENANCE_HEALTH_METRICS",
    "purge-expired-sessions": "MAINTENANCE_PURGE_SESSIONS",
    "record-feed-access": "MAINTENANCE_FEED_ACCESS",
}
