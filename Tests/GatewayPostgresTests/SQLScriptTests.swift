@testable import GatewayPostgres
import Testing

@Suite("Migration scripts")
struct SQLScriptTests {
    @Test("statements split at top-level semicolons only")
    func splitting() {
        let statements = SQLScript.statements("""
            -- a comment; with a semicolon
            CREATE TABLE a (x TEXT DEFAULT 'a;b');
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'no'; END $$;
            INSERT INTO a VALUES ('it''s; fine')
            """)
        #expect(statements == [
            "CREATE TABLE a (x TEXT DEFAULT 'a;b')",
            "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN RAISE EXCEPTION 'no'; END $$",
            "INSERT INTO a VALUES ('it''s; fine')",
        ])
    }

    @Test("the schema splits into whole statements")
    func schema() {
        let statements = PostgresMigrations.all.flatMap { SQLScript.statements($0.sql) }
        #expect(statements.count > 30)
        #expect(statements.allSatisfy { !$0.hasPrefix("--") && !$0.isEmpty })
    }
}
