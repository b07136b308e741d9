import Foundation

/// A person in the directory. The email address is the identity.
public struct User: Sendable, Hashable, Codable {
    /// The normalised (lowercased, trimmed) email address.
    public var email: String
    public var name: String
    public var role: AdminRole
    /// `false` once the user was removed from the directory: such a user keeps their history but
    /// has no rights and receives no mail.
    public var isActive: Bool

    public init(email: String, name: String, role: AdminRole = .member, isActive: Bool = true) {
        self.email = EmailAddress.normalize(email)
        self.name = name
        self.role = role
        self.isActive = isActive
    }
}

/// A named set of users. Groups are what a resource names as its approvers.
public struct Group: Sendable, Hashable, Codable {
    public var name: String
    /// Normalised email addresses of the members.
    public var members: Set<String>

    public init(name: String, members: Set<String>) {
        self.name = name
        self.members = Set(members.map(EmailAddress.normalize))
    }
}

/// Something people ask access to, with the rules that govern its requests.
public struct Resource: Sendable, Hashable, Codable {
    public var name: String
    /// Names of the groups whose members may review this resource's requests.
    public var approverGroups: [String]
    /// The JIT durations a requester may choose from, in seconds, ascending.
    public var allowedDurations: [Int]
    /// How long a request stays pending before it expires, in seconds.
    public var pendingTTL: Int
    /// Lock a user's access after this many days without use; `nil` turns auto-lock off.
    public var autoLockAfterDays: Int?
    /// Whether reviewers may decide by replying to the notification email.
    public var replyDecisionsEnabled: Bool
    /// Whether reviewers may decide through the signed links of the notification email.
    public var linkDecisionsEnabled: Bool
    /// Whether a link decision requires typing the short code printed in the email body.
    public var linkCodeRequired: Bool
    /// Whether a link decision requires a signed-in session of the link's reviewer (LINK-2).
    /// Only an admin relaxes it, for a low-risk resource (`link_sign_in: false`); the relaxed
    /// decisions are flagged in the audit log.
    public var linkSignInRequired: Bool
    /// How many distinct eligible reviewers must approve before a request is approved (at least 1).
    /// One deny from an eligible reviewer denies it at once, whatever this says.
    public var approvalsRequired: Int
    /// A request still pending this many seconds after it was opened is sent to the escalation
    /// reviewers, once; `nil` turns escalation off.
    public var escalateAfterSeconds: Int?
    /// The groups whose members may decide a request once it was escalated. Empty: the admin review
    /// roles only (who may decide every request anyway).
    public var escalationGroups: [String]
    public var isActive: Bool

    /// JIT durations offered when a resource names none: 1 hour, 8 hours, 24 hours.
    public static let defaultDurations = [3600, 8 * 3600, 24 * 3600]
    /// Pending-request time-to-live when a resource names none: 24 hours.
    public static let defaultPendingTTL = 24 * 3600

    public init(
        name: String,
        approverGroups: [String],
        allowedDurations: [Int] = Resource.defaultDurations,
        pendingTTL: Int = Resource.defaultPendingTTL,
        autoLockAfterDays: Int? = nil,
        replyDecisionsEnabled: Bool = true,
        linkDecisionsEnabled: Bool = true,
        linkCodeRequired: Bool = false,
        linkSignInRequired: Bool = true,
        approvalsRequired: Int = 1,
        escalateAfterSeconds: Int? = nil,
        escalationGroups: [String] = [],
        isActive: Bool = true
    ) {
        self.name = name
        self.approverGroups = approverGroups
        self.allowedDurations = allowedDurations.sorted()
        self.pendingTTL = pendingTTL
        self.autoLockAfterDays = autoLockAfterDays
        self.replyDecisionsEnabled = replyDecisionsEnabled
        self.linkDecisionsEnabled = linkDecisionsEnabled
        self.linkCodeRequired = linkCodeRequired
        self.linkSignInRequired = linkSignInRequired
        self.approvalsRequired = approvalsRequired
        self.escalateAfterSeconds = escalateAfterSeconds
        self.escalationGroups = escalationGroups
        self.isActive = isActive
    }

    /// The distinct active users who may review this resource's requests before any escalation:
    /// the admin review roles and the active members of the approver groups.
    public func eligibleReviewers(users: [User], groups: [Group]) -> Set<String> {
        let active = Set(users.filter(\.isActive).map(\.email))
        var eligible = Set(users.filter { $0.isActive && $0.role.reviewsEverything }.map(\.email))
        for group in groups where approverGroups.contains(group.name) {
            eligible.formUnion(group.members.filter(active.contains))
        }
        return eligible
    }
}

/// Email address helpers shared by every module that compares identities.
public enum EmailAddress {
    /// Trims whitespace and lowercases the whole address.
    ///
    /// Local parts are case-sensitive in theory; in practice every mail system this gateway meets
    /// treats them case-insensitively, and an identity that differs only in case is a mistake.
    public static func normalize(_ address: String) -> String {
        // Most addresses come from the database, already normalised: check that without Foundation.
        let bytes = address.utf8
        if let first = bytes.first, let last = bytes.last, !isASCIISpace(first), !isASCIISpace(last),
           !bytes.contains(where: { $0 >= 0x80 || (0x41...0x5A).contains($0) }) {
            return address
        }
        return address.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    private static func isASCIISpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    /// A deliberately simple shape check (`local@domain.tld`, no spaces, one `@`): the directory
    /// holds addresses people type, not arbitrary RFC 5322 mailboxes.
    public static func isPlausible(_ address: String) -> Bool {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 64, parts[1].count <= 255 else { return false }
        let domain = parts[1]
        guard domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix("."), !domain.contains("..") else {
            return false
        }
        let forbidden = Set<Character>(" \t\r\n<>()[]\\,;:\"")
        return !address.contains(where: { forbidden.contains($0) || $0.asciiValue == nil && !$0.isLetter })
    }
}
