import Foundation
import GRDB
import GatewayApp
import GatewayCore

extension SQLiteTransaction: DirectoryRepository {
    func user(email: String) throws -> User? { try db.fetchUser(email: email) }
    func user(id: Int64) throws -> User? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM users WHERE id = ?"), arguments: [id]).map(User.init(row:))
    }
    func userID(email: String) throws -> Int64? { try db.userID(email: email) }
    func users() throws -> [User] { try db.fetchUsers() }

    func users(emails: Set<String>, orRoles roles: Set<AdminRole>) throws -> [User] {
        guard !emails.isEmpty || !roles.isEmpty else { return [] }
        let list = { (count: Int) in Array(repeating: "?", count: count).joined(separator: ",") }
        // A page asks for the names of a varying number of people: the list is padded (with its
        // first address) to a power of two, so that a few statements serve every page and stay
        // compiled in the connection's cache. There are only three roles.
        var addresses = emails.map(EmailAddress.normalize)
        if let first = addresses.first {
            var size = 8
            while size < addresses.count { size *= 2 }
            addresses += Array(repeating: first, count: size - addresses.count)
        }
        var arguments = StatementArguments(texts: addresses)
        arguments += StatementArguments(texts: roles.map(\.rawValue).sorted())
        return try Array(Row.fetchCursor(db.cachedStatement(sql: """
            SELECT * FROM users WHERE email IN (\(list(addresses.count))) OR role IN (\(list(roles.count))) ORDER BY email
            """), arguments: arguments).map(User.init(row:)))
    }
    func groups() throws -> [Group] { try db.fetchGroups() }
    func groupNames(of email: String) throws -> Set<String> { try db.groupNames(of: email) }
    func resource(named name: String) throws -> Resource? { try db.fetchResource(name: name) }
    func resources() throws -> [Resource] { try db.fetchResources() }
    func notificationPreferences() throws -> [String: NotificationPreferences] { try db.preferences() }

    func saveNotificationPreferences(_ preferences: NotificationPreferences, for email: String) throws {
        guard let userID = try db.userID(email: email) else { throw StoreError("\(email) is not a user of the directory") }
        try db.execute(sql: """
            INSERT INTO notification_preferences (user_id, new_requests, outcomes) VALUES (?, ?, ?)
            ON CONFLICT(user_id) DO UPDATE SET new_requests = excluded.new_requests, outcomes = excluded.outcomes
            """, arguments: [userID, preferences.newRequests, preferences.outcomes])
    }

    func replaceApproverGroups(_ groups: [String], resource: String) throws {
        guard let resourceID = try db.resourceID(name: resource) else {
            throw DirectoryEditError(.unknownResource, "there is no resource named \"\(resource)\"")
        }
        var groupIDs: [Int64] = []
        for name in groups {
            guard let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM groups WHERE name = ?"), arguments: [name]) else {
                throw DirectoryEditError(.unknownGroup, "there is no group named \"\(name)\"")
            }
            groupIDs.append(id)
        }
        try db.execute(sql: "DELETE FROM resource_approver_groups WHERE resource_id = ?", arguments: [resourceID])
        for id in groupIDs {
            try db.execute(sql: "INSERT INTO resource_approver_groups (resource_id, group_id) VALUES (?, ?)", arguments: [resourceID, id])
        }
    }

    func replaceGroupMembers(_ members: [String], group: String, create: Bool) throws {
        var groupID = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM groups WHERE name = ?"), arguments: [group])
        if groupID == nil, create {
            try db.execute(sql: "INSERT INTO groups (name) VALUES (?)", arguments: [group])
            groupID = db.lastInsertedRowID
        }
        guard let groupID else { throw DirectoryEditError(.unknownGroup, "there is no group named \"\(group)\"") }
        var userIDs: [Int64] = []
        for email in members {
            guard let id = try db.userID(email: email) else {
                throw DirectoryEditError(.unknownUser, "\(EmailAddress.normalize(email)) is not a user of the directory")
            }
            userIDs.append(id)
        }
        try db.execute(sql: "DELETE FROM group_members WHERE group_id = ?", arguments: [groupID])
        for id in userIDs {
            try db.execute(sql: "INSERT INTO group_members (group_id, user_id) VALUES (?, ?)", arguments: [groupID, id])
        }
    }

    func applyDirectory(_ snapshot: DirectorySnapshot, now: Date) throws -> DirectorySyncReport {
        var report = DirectorySyncReport()
        // Resources are read before groups change, so that a resource whose approver group is
        // removed counts as updated.
        let resourcesBefore = try db.fetchResources()
        try SQLiteStore.syncUsers(snapshot.users, db: db, now: now, report: &report)
        try SQLiteStore.syncGroups(snapshot.groups, db: db, report: &report)
        try SQLiteStore.syncResources(snapshot.resources, existing: resourcesBefore, db: db, report: &report)
        return report
    }
}

extension SQLiteStore {
    static func syncUsers(_ users: [User], db: Database, now: Date, report: inout DirectorySyncReport) throws {
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

    static func syncGroups(_ groups: [Group], db: Database, report: inout DirectorySyncReport) throws {
        let existing = Dictionary(uniqueKeysWithValues: try db.fetchGroups().map { ($0.name, $0) })
        for group in groups {
            let groupID: Int64
            if let old = existing[group.name] {
                guard old.members != group.members else { continue }
                groupID = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM groups WHERE name = ?"), arguments: [group.name])!
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

    static func syncResources(_ resources: [Resource], existing: [Resource], db: Database, report: inout DirectorySyncReport) throws {
        let existing = Dictionary(uniqueKeysWithValues: existing.map { ($0.name, $0) })
        for resource in resources {
            let durations = resource.allowedDurations.map(String.init).joined(separator: ",")
            let values: StatementArguments = [
                durations, resource.pendingTTL, resource.autoLockAfterDays, resource.replyDecisionsEnabled,
                resource.linkDecisionsEnabled, resource.linkCodeRequired, resource.linkSignInRequired,
                resource.approvalsRequired, resource.escalateAfterSeconds, resource.isActive, resource.name,
            ]
            let resourceID: Int64
            if let old = existing[resource.name] {
                var comparable = resource
                comparable.approverGroups = comparable.approverGroups.sorted()
                comparable.escalationGroups = comparable.escalationGroups.sorted()
                guard old != comparable else { continue }
                try db.execute(sql: """
                    UPDATE resources SET durations = ?, pending_ttl = ?, auto_lock_after_days = ?, reply_decisions = ?,
                        link_decisions = ?, link_code_required = ?, link_sign_in = ?, approvals_required = ?,
                        escalate_after_seconds = ?, active = ? WHERE name = ?
                    """, arguments: values)
                resourceID = try db.resourceID(name: resource.name)!
                try db.execute(sql: "DELETE FROM resource_approver_groups WHERE resource_id = ?", arguments: [resourceID])
                try db.execute(sql: "DELETE FROM resource_escalation_groups WHERE resource_id = ?", arguments: [resourceID])
                report.resourcesUpdated += 1
            } else {
                try db.execute(sql: """
                    INSERT INTO resources (durations, pending_ttl, auto_lock_after_days, reply_decisions,
                        link_decisions, link_code_required, link_sign_in, approvals_required, escalate_after_seconds, active, name)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: values)
                resourceID = db.lastInsertedRowID
                report.resourcesAdded += 1
            }
            for group in Set(resource.approverGroups).sorted() {
                guard let groupID = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM groups WHERE name = ?"), arguments: [group]) else {
                    throw StoreError("resource \(resource.name) names approver group \(group), which does not exist")
                }
                try db.execute(
                    sql: "INSERT INTO resource_approver_groups (resource_id, group_id) VALUES (?, ?)",
                    arguments: [resourceID, groupID]
                )
            }
            for group in Set(resource.escalationGroups).sorted() {
                guard let groupID = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM groups WHERE name = ?"), arguments: [group]) else {
                    throw StoreError("resource \(resource.name) names escalation group \(group), which does not exist")
                }
                try db.execute(
                    sql: "INSERT INTO resource_escalation_groups (resource_id, group_id) VALUES (?, ?)",
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

    /// A value the gateway keeps about itself (e.g. the hash of the last imported directory file).
    public func metadata(_ key: String) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM gateway_meta WHERE key = ?"), arguments: [key]) }
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

