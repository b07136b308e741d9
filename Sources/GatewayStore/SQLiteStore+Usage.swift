import Foundation
import GRDB
import GatewayCore

extension SQLiteStore {
    /// Records that `user` used `resource` at `now` (reported by the access layer).
    public func recordUsage(user: String, resource: String, now: Date) async throws {
        try await pool.write { db in
            guard let userID = try db.userID(email: user) else {
                throw RequestError(.unknownRequester, "\(EmailAddress.normalize(user)) is not a user of the directory")
            }
            guard let resourceID = try db.resourceID(name: resource) else {
                throw RequestError(.unknownResource, "there is no resource named \"\(resource)\"")
            }
            try db.execute(sql: """
                INSERT INTO usage (user_id, resource_id, last_used_at) VALUES (?, ?, ?)
                ON CONFLICT(user_id, resource_id) DO UPDATE SET last_used_at = max(last_used_at, excluded.last_used_at)
                """, arguments: [userID, resourceID, now])
        }
    }

    /// Locks every user who has not used an auto-locking resource for its period.
    ///
    /// The period counts from the last reported use, or from the start of the user's last grant when
    /// that is later (an approved request counts as use).
    /// - Returns: the locks created.
    public func autoLock(now: Date) async throws -> [AccessLock] {
        try await pool.write { db in
            let candidates = try Row.fetchAll(db, sql: """
                SELECT u.id AS user_id, r.id AS resource_id, r.auto_lock_after_days AS days,
                       max(coalesce((SELECT last_used_at FROM usage WHERE user_id = u.id AND resource_id = r.id), '0000'),
                           coalesce((SELECT max(starts_at) FROM grants WHERE user_id = u.id AND resource_id = r.id), '0000')) AS last_active
                FROM users u CROSS JOIN resources r
                WHERE r.auto_lock_after_days IS NOT NULL AND r.active AND u.active
                  AND (EXISTS (SELECT 1 FROM usage WHERE user_id = u.id AND resource_id = r.id)
                       OR EXISTS (SELECT 1 FROM grants WHERE user_id = u.id AND resource_id = r.id))
                  AND NOT EXISTS (SELECT 1 FROM locks WHERE user_id = u.id AND resource_id = r.id AND lifted_at IS NULL)
                """)
            var locks: [AccessLock] = []
            for row in candidates {
                let days: Int = row["days"]
                let lastActive = Date.fromDatabaseValue(row["last_active"] as DatabaseValue)
                guard let lastActive, lastActive.addingTimeInterval(TimeInterval(days) * 86_400) <= now else { continue }
                // A lock lifted after the last use restarts the period from the unlock.
                let liftedAt = try Date.fetchOne(db, sql: "SELECT max(lifted_at) FROM locks WHERE user_id = ? AND resource_id = ?", arguments: [row["user_id"], row["resource_id"]])
                if let liftedAt, liftedAt.addingTimeInterval(TimeInterval(days) * 86_400) > now { continue }
                try db.execute(sql: "INSERT INTO locks (user_id, resource_id, locked_at) VALUES (?, ?, ?)", arguments: [row["user_id"], row["resource_id"], now])
                let lock = try db.fetchActiveLock(userID: row["user_id"], resourceID: row["resource_id"])!
                try db.appendAudit(at: now, action: "lock", actor: nil, requestID: nil, channel: nil, outcome: "accepted", reason: "unused_for_\(days)_days", detail: ["user": lock.user, "resource": lock.resource])
                locks.append(lock)
            }
            return locks
        }
    }
}
