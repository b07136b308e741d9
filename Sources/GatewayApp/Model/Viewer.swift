import Foundation
import GatewayCore

/// A signed-in browser session, kept server-side. The browser holds only a random id; the store
/// keeps its SHA-256 digest, so a copy of the database cannot be used to sign in.
public struct WebSession: Sendable, Hashable {
    /// The hex SHA-256 of the session id the browser holds.
    public var idDigest: String
    /// The signed-in user's email.
    public var user: String
    public var createdAt: Date
    public var expiresAt: Date

    public init(idDigest: String, user: String, createdAt: Date, expiresAt: Date) {
        self.idDigest = idDigest
        self.user = EmailAddress.normalize(user)
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// What a signed-in request starts from (``SessionRepository/signedInFacts(idDigest:now:)``).
public struct SignedInFacts: Sendable {
    /// The session's user, active.
    public var user: User
    /// The groups the user belongs to.
    public var groups: Set<String>
    /// Every resource, active or not, by name.
    public var resources: [Resource]

    public init(user: User, groups: Set<String>, resources: [Resource]) {
        self.user = user
        self.groups = groups
        self.resources = resources
    }
}

/// The signed-in user of a web request and what they may see, as of the request.
public struct Viewer: Sendable, Hashable {
    public let user: User
    /// The groups the user belongs to now.
    public let groups: Set<String>
    /// The digest of the session the browser presented.
    public let sessionDigest: String
    /// Names of the active resources whose requests the user may review.
    public let reviewableResources: Set<String>
    /// Names of the active resources whose escalated requests the user may review (through an
    /// escalation group).
    public let escalationResources: Set<String>
    /// Every resource of the directory (active or not) by name, read with the rights above: what
    /// the request's pages show and offer forms by, without reading the directory again.
    public let resources: [String: Resource]

    public init(
        user: User, groups: Set<String>, sessionDigest: String, reviewableResources: Set<String>, escalationResources: Set<String> = [],
        resources: [String: Resource] = [:]
    ) {
        self.user = user
        self.groups = groups
        self.sessionDigest = sessionDigest
        self.reviewableResources = reviewableResources
        self.escalationResources = escalationResources
        self.resources = resources
    }

    /// Admin-role users review everything and see the admin pages.
    public var isAdminRole: Bool { user.role.reviewsEverything }
    /// Who may change approver groups, group members and notification settings.
    public var mayEditDirectory: Bool { user.role.editsDirectory }
    public var mayReviewSomething: Bool { isAdminRole || !reviewableResources.isEmpty || !escalationResources.isEmpty }

    /// Whether the user may decide `request` now: the policy's rights and self-decision rules, and
    /// an open request. Used to show or hide forms; the service judges again when it decides.
    public func mayDecide(_ request: AccessRequest, resource: Resource?, now: Date) -> Bool {
        guard let resource, request.isOpen(at: now), request.requester != user.email else { return false }
        return DecisionPolicy.reviewRight(of: user, groups: groups, for: resource, request: request) != nil
    }

    /// The resources whose requests the user may review, by name: all of them for admin roles.
    public var visibleResources: [Resource] {
        resources.values
            .filter { isAdminRole || reviewableResources.contains($0.name) || escalationResources.contains($0.name) }
            .sorted { $0.name < $1.name }
    }

    /// Whether the user may see `request`: its reviewers (escalation reviewers once escalated) and its requester.
    public func maySee(_ request: AccessRequest) -> Bool {
        isAdminRole || reviewableResources.contains(request.resource) || request.requester == user.email
            || (request.escalatedAt != nil && escalationResources.contains(request.resource))
    }
}
