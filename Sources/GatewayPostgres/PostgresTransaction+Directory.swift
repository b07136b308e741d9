import Foundation
import GatewayApp
import GatewayCore
import PostgresNIO

// Text is ordered with `COLLATE "C"` (byte order of the UTF-8 text), as SQLite's default BINARY
// collation orders it: listings come out in the same order on both backends, and approver groups
// in the order `applyDirectory` compares them with.

extension PostgresTransaction: DirectoryRepository {
    func user(email: String) throws -> User? { try fetchUser(email: email) }

    func user(id: Int64) throws -> User? {
        try row("SELECT * FROM users WHERE id = \(id)", table: "users").map(User.init(stored:))
    }

    func userID(email: String) throws -> Int64? {
        try value("SELECT id FROM users WHERE email = \(EmailAddress.normalize(email))", as: Int64.self)
    }

    func users() throws -> [User] { try fetchUsers() }

    func users(emails: Set<String>, orRoles roles: Set<AdminRole>) throws -> [User] {
        guard !emails.isEmpty || !roles.isEmpty else { return [] }
        let addresses = emails.map(EmailAddress.normalize)
        let roleNames = roles.map(\.rawValue)
        return try rows("""
            SELECT * FROM users WHERE email = ANY(\(addresses)) OR role = ANY(\(roleNames)) ORDER BY email COLLATE "C"
            """, table: "users").map(User.init(stored:))
    }
    func groups() throws -> [Group] { try fetchGroups() }

    func groupNames(of email: String) throws -> Set<String> {
        Set(try values("""
            SELECT g.name FROM groups g
            JOIN group_members m ON m.group_id = g.id
            JOIN users u ON u.id = m.user_id
            WHERE u.email = \(EmailAddress.normalize(email))
            """, as: String.self))
    }

    func resource(named name: String) throws -> Resource? { try fetchResource(name: name) }
    func resources() throws -> [Resource] { try fetchResources() }

    func notificationPreferences() throws -> [String: NotificationPreferences] {
        try Self.preferences(from: session.rows(Self.preferencesQuery))
    }

    /// Every stored preference, with its user's email.
    static let preferencesQuery: PostgresQuery = """
        SELECT u.email, p.new_requests, p.outcomes FROM notification_preferences p JOIN users u ON u.id = p.user_id
        """

    static func preferences(from rows: [PostgresRow]) throws -> [String: NotificationPreferences] {
        Dictionary(uniqueKeysWithValues: try rows.map { row in
            let row = StoredRow(row, table: "notification_preferences")
            return (try row("email", as: String.self), NotificationPreferences(newRequests: try row("new_requests"), outcomes: try row("outcomes")))
        })
    }

    func saveNotificationPreferences(_ preferences: NotificationPreferences, for email: String) throws {
        guard let userID = try userID(email: email) else { throw PostgresStoreError("\(email) is not a user of the directory") }
        try execute("""
            INSERT INTO notification_preferences (user_id, new_requests, outcomes) VALUES (\(userID), \(preferences.newRequests), \(preferences.outcomes))
            ON CONFLICT (user_id) DO UPDATE SET new_requests = excluded.new_requests, outcomes = excluded.outcomes
            """)
    }

    func replaceApproverGroups(_ groups: [String], resource: String) throws {
        guard let resourceID = try value("SELECT id FROM resources WHERE name = \(resource)", as: Int64.self) else {
            throw DirectoryEditError(.unknownResource, "there is no resource named \"\(resource)\"")
        }
        var groupIDs: [Int64] = []
        for name in groups {
            guard let id = try value("SELECT id FROM groups WHERE name = \(name)", as: Int64.self) else {
                throw DirectoryEditError(.unknownGroup, "there is no group named \"\(name)\"")
            }
            groupIDs.append(id)
        }
        try execute("DELETE FROM resource_approver_groups WHERE resource_id = \(resourceID)")
        for id in groupIDs {
            try execute("INSERT INTO resource_approver_groups (resource_id, group_id) VALUES (\(resourceID), \(id))")
        }
    }

    func replaceGroupMembers(_ members: [String], group: String, create: Bool) throws {
        var groupID = try value("SELECT id FROM groups WHERE name = \(group)", as: Int64.self)
        if groupID == nil, create {
            groupID = try value("INSERT INTO groups (name) VALUES (\(group)) RETURNING id", as: Int64.self)
        }
        guard let groupID else { throw DirectoryEditError(.unknownGroup, "there is no group named \"\(group)\"") }
        var userIDs: [Int64] = []
        for email in members {
            guard let id = try userID(email: email) else {
                throw DirectoryEditError(.unknownUser, "\(EmailAddress.normalize(email)) is not a user of the directory")
            }
            userIDs.append(id)
        }
        try execute("DELETE FROM group_members WHERE group_id = \(groupID)")
        for id in userIDs {
            try execute("INSERT INTO group_members (group_id, user_id) VALUES (\(groupID), \(id))")
        }
    }

    func applyDirectory(_ snapshot: DirectorySnapshot, now: Date) throws -> DirectorySyncReport {
        var report = DirectorySyncReport()
        // Resources are read before groups change, so that a resource whose approver group is
        // removed counts as updated.
        let resourcesBefore = try fetchResources()
        try syncUsers(snapshot.users, now: now, report: &report)
        try syncGroups(snapshot.groups, report: &report)
        try syncResources(snapshot.resources, existing: resourcesBefore, report: &report)
        return report
    }

    /// Adds and updates the listed users, and deactivates the active users the snapshot no longer
    /// lists (taking them out of every group).
    private func syncUsers(_ users: [User], now: Date, report: inout DirectorySyncReport) throws {
        let existing = Dictionary(uniqueKeysWithValues: try fetchUsers().map { ($0.email, $0) })
        let listed = Set(users.map(\.email))
        for user in users {
            if let old = existing[user.email] {
                guard old != user else { continue }
                try execute("""
                    UPDATE users SET name = \(user.name), role = \(user.role.rawValue), active = \(user.isActive), updated_at = \(now)
                    WHERE email = \(user.email)
                    """)
                report.usersUpdated += 1
            } else {
                try execute("""
                    INSERT INTO users (email, name, role, active, created_at, updated_at)
                    VALUES (\(user.email), \(user.name), \(user.role.rawValue), \(user.isActive), \(now), \(now))
                    """)
                report.usersAdded += 1
            }
        }
        for old in existing.values where old.isActive && !listed.contains(old.email) {
            try execute("UPDATE users SET active = FALSE, updated_at = \(now) WHERE email = \(old.email)")
            try execute("DELETE FROM group_members WHERE user_id = (SELECT id FROM users WHERE email = \(old.email))")
            report.usersDeactivated += 1
        }
    }

    /// Creates the listed groups, replaces the members of changed ones and removes the groups the
    /// snapshot no longer lists. - Throws: when a group names someone who is not a user.
    private func syncGroups(_ groups: [Group], report: inout DirectorySyncReport) throws {
        let existing = Dictionary(uniqueKeysWithValues: try fetchGroups().map { ($0.name, $0) })
        for group in groups {
            let groupID: Int64
            if let old = existing[group.name] {
                guard old.members != group.members else { continue }
                guard let id = try value("SELECT id FROM groups WHERE name = \(group.name)", as: Int64.self) else {
                    throw PostgresStoreError("group \(group.name) disappeared during the directory sync")
                }
                groupID = id
                try execute("DELETE FROM group_members WHERE group_id = \(groupID)")
                report.groupsUpdated += 1
            } else {
                guard let id = try value("INSERT INTO groups (name) VALUES (\(group.name)) RETURNING id", as: Int64.self) else {
                    throw PostgresStoreError("group \(group.name) could not be created")
                }
                groupID = id
                report.groupsAdded += 1
            }
            for member in group.members.sorted() {
                guard let userID = try userID(email: member) else {
                    throw PostgresStoreError("group \(group.name) names \(member), who is not in the directory")
                }
                try execute("INSERT INTO group_members (group_id, user_id) VALUES (\(groupID), \(userID))")
            }
        }
        let listed = Set(groups.map(\.name))
        for name in existing.keys where !listed.contains(name) {
            try execute("DELETE FROM groups WHERE name = \(name)")
            report.groupsRemoved += 1
        }
    }

    /// Adds and updates the listed resources (compared with `existing`, read before the groups
    /// changed) and deactivates the active resources the snapshot no longer lists.
    /// - Throws: when a resource names an approver group that does not exist.
    private func syncResources(_ resources: [Resource], existing: [Resource], report: inout DirectorySyncReport) throws {
        let existing = Dictionary(uniqueKeysWithValues: existing.map { ($0.name, $0) })
        for resource in resources {
            let durations = resource.allowedDurations.map(String.init).joined(separator: ",")
            let resourceID: Int64
            if let old = existing[resource.name] {
                var comparable = resource
                comparable.approverGroups = comparable.approverGroups.sorted()
                comparable.escalationGroups = comparable.escalationGroups.sorted()
                guard old != comparable else { continue }
                guard let id = try value("""
                    UPDATE resources SET durations = \(durations), pending_ttl = \(resource.pendingTTL),
                        auto_lock_after_days = \(resource.autoLockAfterDays), reply_decisions = \(resource.replyDecisionsEnabled),
                        link_decisions = \(resource.linkDecisionsEnabled), link_code_required = \(resource.linkCodeRequired),
                        link_sign_in = \(resource.linkSignInRequired), approvals_required = \(resource.approvalsRequired),
                        escalate_after_seconds = \(resource.escalateAfterSeconds), active = \(resource.isActive)
                    WHERE name = \(resource.name)
                    RETURNING id
                    """, as: Int64.self) else {
                    throw PostgresStoreError("resource \(resource.name) disappeared during the directory sync")
                }
                resourceID = id
                try execute("DELETE FROM resource_approver_groups WHERE resource_id = \(resourceID)")
                try execute("DELETE FROM resource_escalation_groups WHERE resource_id = \(resourceID)")
                report.resourcesUpdated += 1
            } else {
                guard let id = try value("""
                    INSERT INTO resources (durations, pending_ttl, auto_lock_after_days, reply_decisions,
                        link_decisions, link_code_required, link_sign_in, approvals_required, escalate_after_seconds, active, name)
                    VALUES (\(durations), \(resource.pendingTTL), \(resource.autoLockAfterDays), \(resource.replyDecisionsEnabled),
                        \(resource.linkDecisionsEnabled), \(resource.linkCodeRequired), \(resource.linkSignInRequired),
                        \(resource.approvalsRequired), \(resource.escalateAfterSeconds), \(resource.isActive), \(resource.name))
                    RETURNING id
                    """, as: Int64.self) else {
                    throw PostgresStoreError("resource \(resource.name) could not be created")
                }
                resourceID = id
                report.resourcesAdded += 1
            }
            for group in Set(resource.approverGroups).sorted() {
                guard let groupID = try value("SELECT id FROM groups WHERE name = \(group)", as: Int64.self) else {
                    throw PostgresStoreError("resource \(resource.name) names approver group \(group), which does not exist")
                }
                try execute("INSERT INTO resource_approver_groups (resource_id, group_id) VALUES (\(resourceID), \(groupID))")
            }
            for group in Set(resource.escalationGroups).sorted() {
                guard let groupID = try value("SELECT id FROM groups WHERE name = \(group)", as: Int64.self) else {
                    throw PostgresStoreError("resource \(resource.name) names escalation group \(group), which does not exist")
                }
                try execute("INSERT INTO resource_escalation_groups (resource_id, group_id) VALUES (\(resourceID), \(groupID))")
            }
        }
        let listed = Set(resources.map(\.name))
        for old in existing.values where old.isActive && !listed.contains(old.name) {
            try execute("UPDATE resources SET active = FALSE WHERE name = \(old.name)")
            report.resourcesDeactivated += 1
        }
    }
}

// MARK: Directory reads

/// Row-level reads of the directory, shared by the repositories: each runs inside the caller's
/// transaction.
extension PostgresTransaction {
    func fetchUser(email: String) throws -> User? {
        try row("SELECT * FROM users WHERE email = \(EmailAddress.normalize(email))", table: "users").map(User.init(stored:))
    }

    /// Every user, active or not, by email.
    func fetchUsers() throws -> [User] {
        try rows("SELECT * FROM users ORDER BY email COLLATE \"C\"", table: "users").map(User.init(stored:))
    }

    /// Every group by name, with its members (a group without members included).
    func fetchGroups() throws -> [Group] {
        try Self.groups(from: session.rows(Self.groupsQuery("")))
    }

    /// Groups with their members' emails, one row per member (a group without members has one,
    /// with a null email), filtered by `condition` on `g`.
    static func groupsQuery(_ condition: PostgresQuery) -> PostgresQuery {
        PostgresQuery(unsafeSQL: """
            SELECT g.name, u.email FROM groups g
            LEFT JOIN group_members m ON m.group_id = g.id
            LEFT JOIN users u ON u.id = m.user_id
            \(condition.sql)
            ORDER BY g.name COLLATE "C"
            """, binds: condition.binds)
    }

    /// The groups of rows of ``groupsQuery(_:)``, in the rows' order.
    static func groups(from rows: [PostgresRow]) throws -> [Group] {
        var members: [String: Set<String>] = [:]
        var order: [String] = []
        for row in rows.map({ StoredRow($0, table: "groups") }) {
            let name: String = try row("name")
            if members[name] == nil { members[name] = []; order.append(name) }
            if let email: String = try row("email") { members[name]!.insert(email) }
        }
        return order.map { Group(name: $0, members: members[$0]!) }
    }

    func fetchResource(name: String) throws -> Resource? {
        try row("\(unescaped: Self.resourceSelect) WHERE r.name = \(name)", table: "resources").map(Self.resource(from:))
    }

    /// Every resource, active or not, by name.
    func fetchResources() throws -> [Resource] {
        try rows("\(unescaped: Self.resourceSelect) ORDER BY r.name COLLATE \"C\"", table: "resources").map(Self.resource(from:))
    }

    /// A resource with its approver and escalation groups (sorted), in one query: one round trip.
    static let resourceSelect = """
        SELECT r.*,
            ARRAY(SELECT g.name FROM resource_approver_groups a JOIN groups g ON g.id = a.group_id
                  WHERE a.resource_id = r.id ORDER BY g.name COLLATE "C") AS approver_group_names,
            ARRAY(SELECT g.name FROM resource_escalation_groups e JOIN groups g ON g.id = e.group_id
                  WHERE e.resource_id = r.id ORDER BY g.name COLLATE "C") AS escalation_group_names
        FROM resources r
        """

    static func resource(from row: StoredRow) throws -> Resource {
        try Resource(stored: row, approverGroups: row("approver_group_names"), escalationGroups: row("escalation_group_names"))
    }

    /// Names of a resource's escalation groups, sorted.
    func escalationGroupNames(resourceID: Int64) throws -> [String] {
        try values("""
            SELECT g.name FROM resource_escalation_groups e JOIN groups g ON g.id = e.group_id
            WHERE e.resource_id = \(resourceID) ORDER BY g.name COLLATE "C"
            """, as: String.self)
    }

    /// Names of a resource's approver groups, sorted.
    func approverGroupNames(resourceID: Int64) throws -> [String] {
        try values("""
            SELECT g.name FROM resource_approver_groups a JOIN groups g ON g.id = a.group_id
            WHERE a.resource_id = \(resourceID) ORDER BY g.name COLLATE "C"
            """, as: String.self)
    }
}

extension User {
    init(stored row: StoredRow) throws {
        self.init(
            email: try row("email"), name: try row("name"), role: try row.decode(AdminRole.self, "role"), isActive: try row("active")
        )
    }
}

extension Resource {
    init(stored row: StoredRow, approverGroups: [String], escalationGroups: [String]) throws {
        let durations: String = try row("durations")
        self.init(
            name: try row("name"),
            approverGroups: approverGroups,
            allowedDurations: durations.split(separator: ",").compactMap { Int($0) },
            pendingTTL: try row("pending_ttl"),
            autoLockAfterDays: try row("auto_lock_after_days"),
            replyDecisionsEnabled: try row("reply_decisions"),
            linkDecisionsEnabled: try row("link_decisions"),
            linkCodeRequired: try row("link_code_required"),
            linkSignInRequired: try row("link_sign_in"),
            approvalsRequired: try row("approvals_required"),
            escalateAfterSeconds: try row("escalate_after_seconds"),
            escalationGroups: escalationGroups,
            isActive: try row("active")
        )
    }
}
