"""`X-SQL-Statements: N` on every response, when SQL_COUNT_HEADER is on (benchmarks, never by default).

Counts what the request sent to the default database, authentication and
middleware included, so bench/checkout.py can print the statements per step of
a running server without DEBUG's query log.
"""

from django.conf import settings
from django.db import connection


def sql_count_middleware(get_response):
    if not settings.SQL_COUNT_HEADER:
        from django.core.exceptions import MiddlewareNotUsed

        raise MiddlewareNotUsed

    def middleware(request):
        count = 0

        def counted(execute, sql, params, many, context):
            nonlocal count
            count += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counted):
            response = get_response(request)
        response["X-SQL-Statements"] = str(count)
        return response

    return middleware
