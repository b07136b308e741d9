import Foundation
import GRDB
import GatewayCore

extension SQLiteStore {
    public func syncDirectory(_ snapshot: DirectorySnapshot, now: Date) async throws -> DirectorySyncReport {
        try await pool.write { db in
            var report = DirectorySyncReport()
            // Resources are read before groups change, so that a resource whose approver group is
            // removed counts as updated.
            let resourcesBefore = try db.fetchResources()
            try Self.syncUsers(snapshot.users, db: db, now: now, report: &report)
            try Self.syncGroups(snapshot.groups, db: db, report: &report)
            try Self.syncResources(snapshot.resources, existing: resourcesBefore, db: db, report: &report)
            if report.changedAnything {
                let counts = try JSONEncoder.sorted.encode(report)
                try db.appendAudit(
                    at: now, action: "directory_sync", actor: nil, requestID: nil, channel: nil,
                    outcome: "accepted", reason: nil,
                    detail: ["changes": String(decoding: counts, as: UTF8.self)]
                )
            }
            return report
        }
    }

    private static func syncUsers(_ users: [User], db: Database, now: Date, report: inout DirectorySyncReport) throws {
        let existing = Dictionary(uniqueKeysWithValues: try db.fetchUsers().map { ($0.email, $0) })
        let listed = Set(users.map(\.email))
        for user in users {
            if let old = existing[user.email] {
                guard old != user else { continue }
                try db.execute(
                    sql: "UPDATE users SET name = ?, role = ?, active = ?, updated_at = ? WHERE email = ?",
                    arguments: [user.name, user.role.rawValue, user.isActive, now, user.email]
                )
                report.usersUpdated += 1
            } else {
                try db.execute(
                    sql: "INSERT INTO users (email, name, role, active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [user.email, user.name, user.role.rawValue, user.isActive, now, now]
                )
                report.usersAdded += 1
            }
        }
        for old in existing.values where old.isActive && !listed.contains(old.email) {
            try db.execute(sql: "UPDATE users SET active = 0, updated_at = ? WHERE email = ?", arguments: [now, old.email])
            try db.execute(
                sql: "DELETE FROM group_members WHERE user_id = (SELECT id FROM users WHERE email = ?)",
                arguments: [old.email]
            )
            report.usersDeactivated += 1
        }
    }

    private static func syncGroups(_ groups: [Group], db: Database, report: inout DirectorySyncReport) throws {
        let existing = Dictionary(uniqueKeysWithValues: try db.fetchGroups().map { ($0.name, $0) })
        for group in groups {
            let groupID: Int64
            if let old = existing[group.name] {
                guard old.members != group.members else { continue }
                groupID = try Int64.fetchOne(db, sql: "SELECT id FROM groups WHERE name = ?", arguments: [group.name])!
                try db.execute(sql: "DELETE FROM group_members WHERE group_id = ?", arguments: [groupID])
                report.groupsUpdated += 1
            } else {
                try db.execute(sql: "INSERT INTO groups (name) VALUES (?)", arguments: [group.name])
                groupID = db.lastInsertedRowID
                report.groupsAdded += 1
            }
            for member in group.members.sorted() {
                guard let userID = try db.userID(email: member) else {
                    throw StoreError("group \(group.name) names \(member), who is not in the directory")
                }
                try db.execute(sql: "INSERT INTO group_members (group_id, user_id) VALUES (?, ?)", arguments: [groupID, userID])
            }
        }
        let listed = Set(groups.map(\.name))
        for name in existing.keys where !listed.contains(name) {
            try db.execute(sql: "DELETE FROM groups WHERE name = ?", arguments: [name])
            report.groupsRemoved += 1
        }
    }

    private static func syncResources(_ resources: [Resource], existing: [Resource], db: Database, report: inout DirectorySyncReport) throws {
        let existing = Dictionary(uniqueKeysWithValues: existing.map { ($0.name, $0) })
        for resource in resources {
            let durations = resource.allowedDurations.map(String.init).joined(separator: ",")
            let values: StatementArguments = [
                durations, resource.pendingTTL, resource.autoLockAfterDays, resource.replyDecisionsEnabled,
                resource.linkDecisionsEnabled, resource.linkCodeRequired, resource.isActive, resource.name,
            ]
            let resourceID: Int64
            if let old = existing[resource.name] {
                var comparable = resource
                comparable.approverGroups = comparable.approverGroups.sorted()
                guard old != comparable else { continue }
                try db.execute(sql: """
                    UPDATE resources SET durations = ?, pending_ttl = ?, auto_lock_after_days = ?, reply_decisions = ?,
                        link_decisions = ?, link_code_required = ?, active = ? WHERE name = ?
                    """, arguments: values)
                resourceID = try db.resourceID(name: resource.name)!
                try db.execute(sql: "DELETE FROM resource_approver_groups WHERE resource_id = ?", arguments: [resourceID])
                report.resourcesUpdated += 1
            } else {
                try db.execute(sql: """
                    INSERT INTO resources (durations, pending_ttl, auto_lock_after_days, reply_decisions,
                        link_decisions, link_code_required, active, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: values)
                resourceID = db.lastInsertedRowID
                report.resourcesAdded += 1
            }
            for group in Set(resource.approverGroups).sorted() {
                guard let groupID = try Int64.fetchOne(db, sql: "SELECT id FROM groups WHERE name = ?", arguments: [group]) else {
                    throw StoreError("resource \(resource.name) names approver group \(group), which does not exist")
                }
                try db.execute(
                    sql: "INSERT INTO resource_approver_groups (resource_id, group_id) VALUES (?, ?)",
                    arguments: [resourceID, groupID]
                )
            }
        }
        let listed = Set(resources.map(\.name))
        for old in existing.values where old.isActive && !listed.contains(old.name) {
            try db.execute(sql: "UPDATE resources SET active = 0 WHERE name = ?", arguments: [old.name])
            report.resourcesDeactivated += 1
        }
    }

    public func user(email: String) async throws -> User? {
        try await pool.read { db in try db.fetchUser(email: email) }
    }

    public func users() async throws -> [User] {
        try await pool.read { db in try db.fetchUsers() }
    }

    public func groups() async throws -> [Group] {
        try await pool.read { db in try db.fetchGroups() }
    }

    public func resource(named name: String) async throws -> Resource? {
        try await pool.read { db in try db.fetchResource(name: name) }
    }

    public func resources() async throws -> [Resource] {
        try await pool.read { db in try db.fetchResources() }
    }

    /// A value the gateway keeps about itself (e.g. the hash of the last imported directory file).
    public func metadata(_ key: String) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM gateway_meta WHERE key = ?", arguments: [key]) }
    }

    public func setMetadata(_ key: String, _ value: String) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO gateway_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [key, value]
            )
        }
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
