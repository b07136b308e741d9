import Foundation
import GatewayCore
import Yams

/// The directory in YAML: users, groups and resources.
///
/// ```yaml
/// users:
///   - { email: admin@example.test, name: Ada Admin, role: admin }   # role defaults to member
///   - { email: approver1@example.test, name: Ann Approver }
/// groups:
///   - { name: db-approvers, members: [approver1@example.test] }
/// resources:
///   - name: prod-db
///     approver_groups: [db-approvers]
///     durations: [1h, 4h, 8h]          # allowed JIT durations; default [1h, 8h, 24h]
///     pending_ttl: 24h                 # optional
///     auto_lock_after_days: 30         # optional
///     approvals_required: 2            # distinct approvers needed; default 1
///     escalate_after: 2h               # optional: then sent to the escalation reviewers
///     escalation_groups: [sec-leads]   # default: the admin review roles
/// ```
///
/// Reading is all or nothing: any problem (unknown keys, roles, users or groups, duplicates, bad
/// durations, malformed YAML) throws a ``ConfigurationError`` listing every problem with the entry it
/// is in, and nothing is returned for a partial import.
public enum DirectoryFile {
    /// Reads and validates the directory file at `path`.
    public static func load(path: String) throws(ConfigurationError) -> DirectorySnapshot {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: path, problems: [FileProblem.describe(error, path: path, what: "directory file")])
        }
        return try parse(text, file: path)
    }

    /// Parses and validates directory YAML; `file` names the source in error messages.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> DirectorySnapshot {
        var walker = YAMLWalker()
        guard let root = try YAMLWalker.compose(text, file: file) else {
            throw ConfigurationError(file: file, problems: ["the directory is empty"])
        }
        guard let top = walker.mapping(root, path: "", allowedKeys: ["users", "groups", "resources"]) else {
            throw ConfigurationError(file: file, problems: walker.problems)
        }
        let users = parseUsers(top["users"], walker: &walker)
        let knownUsers = Set(users.map(\.email))
        let groups = parseGroups(top["groups"], knownUsers: knownUsers, walker: &walker)
        let resources = parseResources(top["resources"], users: users, groups: groups, walker: &walker)
        guard walker.problems.isEmpty else { throw ConfigurationError(file: file, problems: walker.problems) }
        return DirectorySnapshot(users: users, groups: groups, resources: resources)
    }

    private static func parseUsers(_ node: Node?, walker: inout YAMLWalker) -> [User] {
        guard let node, let items = walker.sequence(node, path: "users") else { return [] }
        var users: [User] = []
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            var path = "users[\(index)]"
            guard let fields = walker.mapping(item, path: path, allowedKeys: ["email", "name", "role"]) else { continue }
            guard let emailNode = fields["email"], let rawEmail = walker.string(emailNode, path: "\(path).email") else {
                walker.problem(path, item, "email is required")
                continue
            }
            let email = EmailAddress.normalize(rawEmail)
            path += " (\(email))"
            guard EmailAddress.isPlausible(email) else {
                walker.problem(path, emailNode, "\"\(rawEmail)\" is not an email address")
                continue
            }
            if let first = seen[email] {
                walker.problem(path, emailNode, "duplicate user: users[\(first)] has the same email")
                continue
            }
            seen[email] = index
            let name = fields["name"].flatMap { walker.string($0, path: "\(path).name") } ?? email
            var role = AdminRole.member
            if let roleNode = fields["role"], let text = walker.string(roleNode, path: "\(path).role") {
                guard let parsed = AdminRole(rawValue: text.lowercased()) else {
                    let roles = AdminRole.allCases.map(\.rawValue).joined(separator: ", ")
                    walker.problem(path, roleNode, "unknown role \"\(text)\" (roles: \(roles))")
                    continue
                }
                role = parsed
            }
            users.append(User(email: email, name: name, role: role))
        }
        return users
    }

    private static func parseGroups(_ node: Node?, knownUsers: Set<String>, walker: inout YAMLWalker) -> [Group] {
        guard let node, let items = walker.sequence(node, path: "groups") else { return [] }
        var groups: [Group] = []
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            var path = "groups[\(index)]"
            guard let fields = walker.mapping(item, path: path, allowedKeys: ["name", "members"]) else { continue }
            guard let nameNode = fields["name"], let name = walker.string(nameNode, path: "\(path).name"), isName(name) else {
                walker.problem(path, item, "a name of letters, digits, '-', '_' or '.' is required")
                continue
            }
            path += " (\(name))"
            if let first = seen[name] {
                walker.problem(path, nameNode, "duplicate group: groups[\(first)] has the same name")
                continue
            }
            seen[name] = index
            var members: Set<String> = []
            if let membersNode = fields["members"], let list = walker.strings(membersNode, path: "\(path).members") {
                for raw in list {
                    let email = EmailAddress.normalize(raw)
                    if !knownUsers.contains(email) {
                        walker.problem(path, membersNode, "member \"\(raw)\" is not a user of the directory")
                    } else if !members.insert(email).inserted {
                        walker.problem(path, membersNode, "member \"\(raw)\" is listed twice")
                    }
                }
            }
            groups.append(Group(name: name, members: members))
        }
        return groups
    }

    private static func parseResources(_ node: Node?, users: [User], groups: [Group], walker: inout YAMLWalker) -> [Resource] {
        guard let node, let items = walker.sequence(node, path: "resources") else { return [] }
        let knownGroups = Set(groups.map(\.name))
        var resources: [Resource] = []
        var seen: [String: Int] = [:]
        let keys: Set<String> = [
            "name", "approver_groups", "durations", "pending_ttl", "auto_lock_after_days",
            "reply_decisions", "link_decisions", "link_code_required", "link_sign_in",
            "approvals_required", "escalate_after", "escalation_groups",
        ]
        for (index, item) in items.enumerated() {
            var path = "resources[\(index)]"
            guard let fields = walker.mapping(item, path: path, allowedKeys: keys) else { continue }
            guard let nameNode = fields["name"], let name = walker.string(nameNode, path: "\(path).name"), isName(name) else {
                walker.problem(path, item, "a name of letters, digits, '-', '_' or '.' is required")
                continue
            }
            path += " (\(name))"
            if let first = seen[name] {
                walker.problem(path, nameNode, "duplicate resource: resources[\(first)] has the same name")
                continue
            }
            seen[name] = index
            let problemsBefore = walker.problems.count
            var resource = Resource(name: name, approverGroups: [])
            if let groups = groupList(fields["approver_groups"], key: "approver_groups", what: "approver group", path: path, known: knownGroups, walker: &walker) {
                resource.approverGroups = groups
            }
            if let durationsNode = fields["durations"], let texts = walker.strings(durationsNode, path: "\(path).durations") {
                var seconds: [Int] = []
                for text in texts {
                    guard let value = DurationText.seconds(from: text) else {
                        walker.problem(path, durationsNode, "bad duration \"\(text)\" (use forms like 30m, 1h, 8h, 1d)")
                        continue
                    }
                    seconds.append(value)
                }
                if texts.isEmpty { walker.problem(path, durationsNode, "durations must list at least one duration") }
                if Set(seconds).count != seconds.count { walker.problem(path, durationsNode, "a duration is listed twice") }
                resource.allowedDurations = seconds.sorted()
            }
            if let ttlNode = fields["pending_ttl"], let text = walker.string(ttlNode, path: "\(path).pending_ttl") {
                if let value = DurationText.seconds(from: text) {
                    resource.pendingTTL = value
                } else {
                    walker.problem(path, ttlNode, "bad pending_ttl \"\(text)\" (use forms like 30m, 4h, 24h)")
                }
            }
            if let lockNode = fields["auto_lock_after_days"], let text = walker.string(lockNode, path: "\(path).auto_lock_after_days") {
                if let days = Int(text), days > 0, days <= 3650 {
                    resource.autoLockAfterDays = days
                } else {
                    walker.problem(path, lockNode, "auto_lock_after_days must be a whole number of days from 1 to 3650, not \"\(text)\"")
                }
            }
            for (key, keyPath) in [
                ("reply_decisions", \Resource.replyDecisionsEnabled),
                ("link_decisions", \Resource.linkDecisionsEnabled),
                ("link_code_required", \Resource.linkCodeRequired),
                ("link_sign_in", \Resource.linkSignInRequired),
            ] {
                guard let flagNode = fields[key], let text = walker.string(flagNode, path: "\(path).\(key)") else { continue }
                guard let flag = parseBool(text) else {
                    walker.problem(path, flagNode, "\(key) must be true or false, not \"\(text)\"")
                    continue
                }
                resource[keyPath: keyPath] = flag
            }
            if let groups = groupList(fields["escalation_groups"], key: "escalation_groups", what: "escalation group", path: path, known: knownGroups, walker: &walker) {
                resource.escalationGroups = groups
            }
            if let afterNode = fields["escalate_after"], let text = walker.string(afterNode, path: "\(path).escalate_after") {
                if let value = DurationText.seconds(from: text) {
                    resource.escalateAfterSeconds = value
                    if value >= resource.pendingTTL {
                        walker.problem(path, afterNode, "escalate_after (\(text)) must be shorter than pending_ttl (\(DurationText.format(seconds: resource.pendingTTL))): the request would expire first")
                    }
                } else {
                    walker.problem(path, afterNode, "bad escalate_after \"\(text)\" (use forms like 30m, 2h, 1d)")
                }
            } else if fields["escalation_groups"] != nil {
                walker.problem(path, fields["escalation_groups"]!, "escalation_groups needs escalate_after (when to escalate)")
            }
            if let quorumNode = fields["approvals_required"], let text = walker.string(quorumNode, path: "\(path).approvals_required") {
                let eligible = resource.eligibleReviewers(users: users, groups: groups).count
                if let count = Int(text), count >= 1 {
                    if count > eligible {
                        walker.problem(path, quorumNode, "approvals_required is \(count), but only \(eligible) reviewer\(eligible == 1 ? "" : "s") (admin roles and approver group members) may approve \(name)")
                    }
                    resource.approvalsRequired = count
                } else {
                    walker.problem(path, quorumNode, "approvals_required must be a whole number from 1, not \"\(text)\"")
                }
            }
            if walker.problems.count == problemsBefore { resources.append(resource) }
        }
        return resources
    }

    /// A resource's list of group names under `key`, each a group of the directory and listed once
    /// (problems are reported, naming `what` kind of group); `nil` when the key is absent or not a list.
    private static func groupList(_ node: Node?, key: String, what: String, path: String, known: Set<String>, walker: inout YAMLWalker) -> [String]? {
        guard let node, let groups = walker.strings(node, path: "\(path).\(key)") else { return nil }
        for group in groups where !known.contains(group) {
            walker.problem(path, node, "\(what) \"\(group)\" is not a group of the directory")
        }
        if Set(groups).count != groups.count {
            walker.problem(path, node, "an \(what) is listed twice")
        }
        return groups
    }

    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 100
            && text.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on": true
        case "false", "no", "off": false
        default: nil
        }
    }
}
