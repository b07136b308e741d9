import Foundation
import GatewayApp
import PostgresNIO

extension PostgresStore {
    /// Whether every table of the installation is empty (a `db copy` target must be).
    public func isEmpty() async throws -> Bool {
        try await database.read { session in
            for table in InstallationTables.ordered {
                if try session.value(PostgresQuery(unsafeSQL: "SELECT EXISTS (SELECT 1 FROM \(table))"), as: Bool.self) == true { return false }
            }
            return true
        }
    }

    /// How many rows `table` holds.
    public func rowCount(_ table: String) async throws -> Int {
        guard InstallationTables.ordered.contains(table) else { throw PostgresStoreError("\(table) is not a table of the installation") }
        return try await database.read { session in try session.value(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)"), as: Int.self) ?? 0 }
    }

    /// Inserts copied rows, ids included, converting each value to its column's type here
    /// (booleans, instants, bytes). An audit record keeps its instant's text as it was hashed.
    public func importRows(_ batch: CopiedRows) async throws {
        guard InstallationTables.ordered.contains(batch.table) else { throw PostgresStoreError("\(batch.table) is not a table of the installation") }
        try await database.write { session in
            let types = try Dictionary(uniqueKeysWithValues: session.rows("""
                SELECT column_name, data_type FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = \(batch.table)
                """).map { row in try row.decode((String, String).self) })
            var columns = batch.columns
            let addsInstantText = batch.table == "audit_log" && !columns.contains("at_text")
            if addsInstantText { columns.append("at_text") }
            for column in columns where types[column] == nil {
                throw PostgresStoreError("\(batch.table).\(column) has no column in the PostgreSQL schema")
            }
            let placeholders = (1...columns.count).map { "$\($0)" }.joined(separator: ", ")
            let sql = "INSERT INTO \(batch.table) (\(columns.joined(separator: ", "))) VALUES (\(placeholders))"
            for row in batch.rows {
                var values = row
                if addsInstantText, let index = batch.columns.firstIndex(of: "at") { values.append(values[index]) }
                var binds = PostgresBindings(capacity: values.count)
                for (column, value) in zip(columns, values) {
                    try Self.bind(value, as: types[column]!, column: "\(batch.table).\(column)", into: &binds)
                }
                try session.execute(PostgresQuery(unsafeSQL: sql, binds: binds))
            }
        }
    }

    /// Gathers the planner's statistics of every table (`ANALYZE`), so that the first queries after
    /// a copy are planned on the copied rows rather than on defaults for empty tables.
    public func analyze() async throws {
        try await database.withSession { session in try session.execute("ANALYZE") }
    }

    /// Moves every identity sequence past the copied ids, so new rows get fresh ones.
    public func resetIdentities() async throws {
        try await database.write { session in
            let withIdentity = Set(try session.rows("""
                SELECT table_name FROM information_schema.columns
                WHERE table_schema = current_schema() AND column_name = 'id' AND is_identity = 'YES'
                """).map { try $0.decode(String.self) })
            for table in InstallationTables.ordered where withIdentity.contains(table) {
                try session.execute(PostgresQuery(unsafeSQL: """
                    SELECT setval(pg_get_serial_sequence('\(table)', 'id'), COALESCE((SELECT max(id) FROM \(table)), 0) + 1, false)
                    """))
            }
        }
    }

    private static func bind(_ value: CopiedValue, as type: String, column: String, into binds: inout PostgresBindings) throws {
        func unexpected() -> PostgresStoreError {
            PostgresStoreError("\(column): cannot store \(value) as \(type)")
        }
        switch (value, type) {
        case (.null, _):
            binds.appendNull()
        case (.integer(let number), "bigint"), (.integer(let number), "integer"):
            binds.append(number)
        case (.integer(let number), "boolean"):
            binds.append(number != 0)
        case (.real(let number), "double precision"):
            binds.append(number)
        case (.text(let text), "text"):
            binds.append(text)
        case (.integer(let number), "text"):
            binds.append(String(number))
        case (.text(let text), "timestamp with time zone"):
            guard let date = Self.storedInstant(text) else { throw PostgresStoreError("\(column): \"\(text)\" is not an instant") }
            binds.append(date)
        case (.bytes(let bytes), "bytea"):
            try binds.append(Data(bytes))
        case (.text(let text), "bytea"):
            try binds.append(Data(text.utf8))
        default:
            throw unexpected()
        }
    }

    /// An instant in the SQLite store's text form (`yyyy-MM-dd HH:mm:ss.SSS`, UTC).
    static func storedInstant(_ text: String) -> Date? {
        let normalized = text.replacingOccurrences(of: " ", with: "T")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withDashSeparatorInDate, .withColonSeparatorInTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        if let date = formatter.date(from: normalized) { return date }
        formatter.formatOptions = [.withFullDate, .withTime, .withDashSeparatorInDate, .withColonSeparatorInTime]
        return formatter.date(from: normalized)
    }
}
