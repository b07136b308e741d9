import Foundation
import GRDB
import GatewayApp

extension SQLiteStore {
    /// Reads `table` in row order, `batchSize` rows at a time, for `db copy`; `body` gets each batch.
    public func exportTable(_ table: String, batchSize: Int = 1_000, _ body: (CopiedRows) async throws -> Void) async throws {
        guard InstallationTables.ordered.contains(table) else { throw StoreError("\(table) is not a table of the installation") }
        var offset = 0
        while true {
            let start = offset
            let batch = try await pool.read { db -> CopiedRows in
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY rowid LIMIT ? OFFSET ?", arguments: [batchSize, start])
                let columns = rows.first.map { Array($0.columnNames) } ?? []
                return CopiedRows(table: table, columns: columns, rows: rows.map { row in
                    row.databaseValues.map { value in
                        switch value.storage {
                        case .null: .null
                        case .int64(let number): .integer(number)
                        case .double(let number): .real(number)
                        case .string(let text): .text(text)
                        case .blob(let data): .bytes([UInt8](data))
                        }
                    }
                })
            }
            if batch.rows.isEmpty { return }
            try await body(batch)
            offset += batch.rows.count
            if batch.rows.count < batchSize { return }
        }
    }

    /// How many rows `table` holds.
    public func rowCount(_ table: String) async throws -> Int {
        guard InstallationTables.ordered.contains(table) else { throw StoreError("\(table) is not a table of the installation") }
        return try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
    }
}
