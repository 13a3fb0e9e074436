from bench import audit_log, sync_queries, week_query

BENCHMARKS = (week_query, sync_queries, audit_log)

if __name__ == "__main__":
    for benchmark in BENCHMARKS:
        benchmark.main()
