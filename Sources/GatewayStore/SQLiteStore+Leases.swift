import Foundation
import GRDB
import GatewayApp

extension SQLiteStore {
    public func holdLease(_ name: String, holder: String, duration: TimeInterval) async throws -> Bool {
        let now = Date()
        let expires = now.addingTimeInterval(duration)
        return try await pool.write { db in
            // Taken when free or run out; renewed by its holder; otherwise left alone.
            try db.execute(sql: """
                INSERT INTO gateway_leases (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET
                    acquired_at = CASE WHEN gateway_leases.holder = excluded.holder THEN gateway_leases.acquired_at ELSE excluded.acquired_at END,
                    holder = excluded.holder, expires_at = excluded.expires_at
                WHERE gateway_leases.holder = excluded.holder OR gateway_leases.expires_at <= ?
                """, arguments: [name, holder, now, expires, now])
            return db.changesCount == 1
        }
    }

    public func releaseLease(_ name: String, holder: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM gateway_leases WHERE name = ? AND holder = ?", arguments: [name, holder])
        }
    }
}
