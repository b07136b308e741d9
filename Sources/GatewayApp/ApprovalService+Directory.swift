import Foundation
import GatewayCore

extension ApprovalService {
    /// Throws unless the actor may change the directory: the operator, an `admin`/`devops` user
    /// (session or personal key, with the role they hold now), or an integration key with
    /// `directory:write`.
    func requireDirectoryWrite(_ actor: Actor, in tx: any StoreTransaction) throws {
        switch actor {
        case .cli: return
        case .session(let viewer):
            guard let user = try tx.user(email: viewer.user.email), user.isActive, user.role.editsDirectory else {
                throw AccessDenied("only admin and devops users change the directory")
            }
        case .apiKey(let key):
            if let email = key.user {
                guard let user = try tx.user(email: email), user.isActive, user.role.editsDirectory else {
                    throw AccessDenied("only the personal key of an admin or devops user, or an integration key with the directory:write scope, changes the directory")
                }
            } else {
                try Self.require(.directoryWrite, of: key)
            }
        }
    }

    func directoryAuditDetail(_ actor: Actor) -> [String: String] {
        if case .apiKey(let key) = actor { return ["api_key": key.name, "api_key_id": String(key.id)] }
        return [:]
    }

    /// Replaces a resource's approver groups, audited with the previous and new lists. The edit lasts
    /// until the directory file changes and is imported again.
    /// - Throws: ``AccessDenied``, or ``DirectoryEditError`` for an unknown resource or group.
    public func setApproverGroups(_ groups: [String], resource: String, by actor: Actor) async throws -> Resource {
        let now = self.now
        return try await storage.write { [self] tx in
            try requireDirectoryWrite(actor, in: tx)
            guard let before = try tx.resource(named: resource) else {
                throw DirectoryEditError(.unknownResource, "there is no resource named \"\(resource)\"")
            }
            let wanted = Array(Set(groups)).sorted()
            try tx.replaceApproverGroups(wanted, resource: resource)
            try checkQuorumsReachable(in: tx)
            var detail = directoryAuditDetail(actor)
            detail["resource"] = resource
            detail["before"] = before.approverGroups.sorted().joined(separator: ",")
            detail["after"] = wanted.joined(separator: ",")
            try tx.audit(.approverGroups, .accepted, actor: actor.auditName, channel: actor.channel, detail: detail, at: now)
            guard let after = try tx.resource(named: resource) else { throw ServiceInvariantError("resource \(resource) vanished while being edited") }
            return after
        }
    }

    /// Replaces a group's members (creating the group when `create` is set), audited.
    /// - Throws: ``AccessDenied``, or ``DirectoryEditError`` for an unknown group or user.
    public func setGroupMembers(_ members: [String], group: String, create: Bool, by actor: Actor) async throws -> Group {
        let now = self.now
        return try await storage.write { [self] tx in
            try requireDirectoryWrite(actor, in: tx)
            let wanted = Array(Set(members.map(EmailAddress.normalize))).sorted()
            let before = try tx.groups().first { $0.name == group }?.members.sorted() ?? []
            try tx.replaceGroupMembers(wanted, group: group, create: create)
            try checkQuorumsReachable(in: tx)
            var detail = directoryAuditDetail(actor)
            detail["group"] = group
            detail["before"] = before.joined(separator: ",")
            detail["after"] = wanted.joined(separator: ",")
            try tx.audit(.groupMembers, .accepted, actor: actor.auditName, channel: actor.channel, detail: detail, at: now)
            return Group(name: group, members: Set(wanted))
        }
    }

    /// Refuses an edit (rolling its transaction back) that leaves an active resource with fewer
    /// possible approvers than its `approvals_required`: its requests could never be approved.
    func checkQuorumsReachable(in tx: any StoreTransaction) throws {
        let users = try tx.users()
        let groups = try tx.groups()
        for resource in try tx.resources() where resource.isActive && resource.approvalsRequired > 1 {
            let eligible = resource.eligibleReviewers(users: users, groups: groups).count
            if resource.approvalsRequired > eligible {
                throw DirectoryEditError(
                    .quorumUnreachable,
                    "\(resource.name) needs \(resource.approvalsRequired) approvals, and after this change only \(eligible) reviewer\(eligible == 1 ? "" : "s") could give one"
                )
            }
        }
    }

    /// Sets an admin-role user's notification preferences (audited). Other users' emails are fixed:
    /// approvers are always told about their resources' new requests.
    /// - Throws: ``AccessDenied`` or ``RequestError`` for an unknown or non-admin-role user.
    public func setNotificationPreferences(_ preferences: NotificationPreferences, for email: String, by actor: Actor) async throws {
        let email = EmailAddress.normalize(email)
        let now = self.now
        try await storage.write { [self] tx in
            try requireDirectoryWrite(actor, in: tx)
            guard let user = try tx.user(email: email), user.isActive else {
                throw RequestError(.unknownRequester, "\(email) is not a user of the directory")
            }
            guard user.role.reviewsEverything else {
                throw RequestError(
                    .notAdminRole,
                    "\(email) has the role \(user.role.rawValue); notification preferences apply to admin, devops and access_reviewer users (approvers are always emailed about their resources' new requests)"
                )
            }
            guard try tx.notificationPreferences()[email] ?? .default != preferences else { return }
            try tx.saveNotificationPreferences(preferences, for: email)
            try tx.audit(
                .notificationPreferences, .accepted, actor: actor.auditName, channel: actor.channel,
                detail: ["user": email, "new_requests": String(preferences.newRequests), "outcomes": String(preferences.outcomes)], at: now
            )
        }
    }

    /// Makes the stored directory equal to `snapshot` (the configured directory file), audited when
    /// it changed anything.
    public func importDirectory(_ snapshot: DirectorySnapshot) async throws -> DirectorySyncReport {
        let now = self.now
        return try await storage.write { tx in
            let report = try tx.applyDirectory(snapshot, now: now)
            if report.changedAnything {
                let counts = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
                try tx.audit(.directorySync, .accepted, actor: nil, detail: ["changes": counts], at: now)
            }
            return report
        }
    }

    /// Directory listings: anyone signed in, any key.
    public func directory() async throws -> (users: [User], groups: [Group], resources: [Resource]) {
        try await storage.read { tx in (try tx.users(), try tx.groups(), try tx.resources()) }
    }

    /// Every resource, by name.
    public func resources() async throws -> [Resource] {
        try await storage.read { tx in try tx.resources() }
    }

    /// The names of the people with addresses `emails`, by normalised address, without reading the
    /// whole directory. People no longer in the directory are left out.
    public func names(of emails: Set<String>) async throws -> [String: String] {
        guard !emails.isEmpty else { return [:] }
        return try await storage.read { tx in try Self.names(of: emails, in: tx) }
    }

    /// The names of the people with addresses `emails`, by normalised address, inside `tx`.
    static func names(of emails: Set<String>, in tx: any StoreTransaction) throws -> [String: String] {
        Dictionary(try tx.users(emails: emails, orRoles: []).map { ($0.email, $0.name) }, uniquingKeysWith: { first, _ in first })
    }
}
