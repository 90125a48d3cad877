"""Give the application's PostgreSQL role least privilege on tables it does not own."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from psycopg import sql

# Append-only tables: the application may read and add rows, never change or remove them.
APPEND_ONLY_TABLES = {
    "portal_auditevent",
    "evidence_custodyevent",
    "evidence_contemporaneousnote",
    "evidence_statementdraft",
    "evidence_bundleaccess",
}


class Command(BaseCommand):
    help = (
        "Run as the table owner after `migrate`: grants ROLE SELECT/INSERT/UPDATE/DELETE on ordinary tables, "
        "SELECT/INSERT only on append-only tables, and never TRUNCATE."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", help="The PostgreSQL role the web server and workers connect as.")
        parser.add_argument("--create", action="store_true", help="Create the role (LOGIN) if it is missing.")

    def handle(self, *args, role: str, create: bool, **options) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("grant_app_role applies to PostgreSQL only.")
        ident = sql.Identifier(role)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
            if cursor.fetchone() is None:
                if not create:
                    raise CommandError(f"Role {role!r} does not exist: create it, or pass --create.")
                cursor.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident).as_string(cursor.connection))
            cursor.execute("SELECT current_database(), current_schema()")
            database, schema = cursor.fetchone()
            statements = [
                sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), ident),
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), ident),
                sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(sql.Identifier(schema), ident),
                sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
                    sql.Identifier(schema), ident
                ),
            ]
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [schema])
            for (table,) in cursor.fetchall():
                privileges = "SELECT, INSERT" if table in APPEND_ONLY_TABLES else "SELECT, INSERT, UPDATE, DELETE"
                statements.append(
                    sql.SQL("GRANT " + privileges + " ON {} TO {}").format(sql.Identifier(schema, table), ident)
                )
            for statement in statements:
                cursor.execute(statement.as_string(cursor.connection))
        self.stdout.write(self.style.SUCCESS(f"Granted least privilege to {role} on {database}.{schema}."))
