import Foundation

/// Why a decision attempt was refused. Every channel reports the same reasons.
public struct DecisionRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable reason.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// The reviewer is not an active user of the directory.
        case unknownReviewer = "unknown_reviewer"
        /// The reviewer is the requester (AUTHZ-1).
        case selfDecision = "self_decision"
        /// The reviewer has no admin review role and is in none of the resource's approver groups (AUTHZ-2).
        case notAllowed = "not_allowed"
        /// The resource does not accept decisions through this channel.
        case channelDisabled = "channel_disabled"
        /// The request was already decided, cancelled or expired (AUTHZ-3).
        case notPending = "not_pending"
        /// The request was pending but its deadline has passed (AUTHZ-5).
        case pastDeadline = "past_deadline"
        /// The request does not exist.
        case unknownRequest = "unknown_request"
        /// The single-use token was already used for a decision (LINK-8).
        case tokenUsed = "token_used"
        /// A link decision needs a signed-in session of the link's reviewer (LINK-2).
        case signInRequired = "sign_in_required"
        /// The browser is signed in as someone other than the link's reviewer (LINK-2).
        case wrongSession = "wrong_session"
        /// The link's token names another request than the one being decided.
        case tokenMismatch = "token_mismatch"
        /// The resource requires the confirmation code from the email, and it was missing or wrong.
        case wrongCode = "wrong_code"
        /// Too many wrong confirmation codes: link decisions wait for the lockout to pass.
        case codeLocked = "code_locked"
        /// The caller may not decide as anyone through this channel (an integration API key), or
        /// named a reviewer other than itself (a personal API key).
        case forbidden
        /// An approval for longer than the requester asked, for no time at all, or with a duration
        /// on a request that has none (an unlock).
        case durationNotAllowed = "duration_not_allowed"
        /// The reviewer already approved this request, which needs several distinct approvers:
        /// a second approval, through any channel, does not count twice.
        case alreadyApproved = "already_approved"
    }

    public var code: Code
    /// The request's state when refused for ``Code/notPending``.
    public var state: RequestState?
    /// Who decided, when refused for ``Code/notPending`` after a decision.
    public var decidedBy: String?
    public var detail: String

    public init(_ code: Code, detail: String, state: RequestState? = nil, decidedBy: String? = nil) {
        self.code = code
        self.detail = detail
        self.state = state
        self.decidedBy = decidedBy
    }

    public var description: String { detail }
}

/// What entitled a reviewer to decide: recorded in the audit log as the rights snapshot.
public enum ReviewRight: Sendable, Hashable, CustomStringConvertible {
    /// An admin review role (`admin`, `devops`, `access_reviewer`).
    case role(AdminRole)
    /// Membership of one of the resource's approver groups.
    case approverGroup(String)
    /// Membership of one of the resource's escalation groups, once the request was escalated.
    case escalationGroup(String)

    public var description: String {
        switch self {
        case .role(let role): "role:\(role.rawValue)"
        case .approverGroup(let group): "group:\(group)"
        case .escalationGroup(let group): "escalation:\(group)"
        }
    }
}

/// The one set of rules every channel decides through.
///
/// The policy is pure: the store gathers the facts *inside the transaction that records the
/// decision* (the request, the reviewer and their current group memberships) and asks the policy.
/// Rights are therefore checked at decision time, never when the email was sent (AUTHZ-2).
public enum DecisionPolicy {
    /// The facts a decision is judged on, read at decision time.
    public struct Facts: Sendable {
        public var request: AccessRequest
        public var resource: Resource
        /// The reviewer as the directory knows them now; `nil` when unknown.
        public var reviewer: User?
        /// Names of the groups the reviewer belongs to now.
        public var reviewerGroups: Set<String>
        public var channel: DecisionChannel
        public var now: Date

        public init(
            request: AccessRequest, resource: Resource, reviewer: User?, reviewerGroups: Set<String>,
            channel: DecisionChannel, now: Date
        ) {
            self.request = request
            self.resource = resource
            self.reviewer = reviewer
            self.reviewerGroups = reviewerGroups
            self.channel = channel
            self.now = now
        }
    }

    /// The right that lets `user` review requests for `resource` before any escalation, if any.
    /// Ignores self-decision.
    public static func reviewRight(of user: User, groups: Set<String>, for resource: Resource) -> ReviewRight? {
        guard user.isActive else { return nil }
        if user.role.reviewsEverything { return .role(user.role) }
        if let group = resource.approverGroups.sorted().first(where: groups.contains) { return .approverGroup(group) }
        return nil
    }

    /// The right that lets `user` review `request` now: the resource's reviewers, and once the
    /// request was escalated, the members of the resource's escalation groups. Ignores self-decision.
    public static func reviewRight(of user: User, groups: Set<String>, for resource: Resource, request: AccessRequest) -> ReviewRight? {
        if let right = reviewRight(of: user, groups: groups, for: resource) { return right }
        guard user.isActive, request.escalatedAt != nil else { return nil }
        return resource.escalationGroups.sorted().first(where: groups.contains).map(ReviewRight.escalationGroup)
    }

    /// Whether an approval given earlier still counts, judged with the reviewer's rights now:
    /// `nil` when it counts, else why not. Someone removed from the directory or from the approver
    /// groups after approving no longer counts; the requester never does.
    public static func standing(of approval: RecordedApproval, reviewer: User?, groups: Set<String>, request: AccessRequest, resource: Resource) -> String? {
        guard let reviewer, reviewer.isActive else { return "\(approval.reviewer) is no longer an active user of the directory" }
        if reviewer.email == EmailAddress.normalize(request.requester) { return "\(approval.reviewer) requested this access" }
        guard reviewRight(of: reviewer, groups: groups, for: resource, request: request) != nil else {
            return "\(approval.reviewer) is no longer a reviewer of \(resource.name)"
        }
        return nil
    }

    /// One approval per reviewer under a quorum, whatever the channel: a reviewer found among
    /// `approvals` is refused with ``DecisionRefusal/Code/alreadyApproved``.
    public static func checkFirstApproval(by reviewer: String, request: AccessRequest, approvals: [RecordedApproval]) throws(DecisionRefusal) {
        guard let mine = approvals.first(where: { $0.reviewer == EmailAddress.normalize(reviewer) }) else { return }
        let counted = approvals.filter(\.counts).count
        throw DecisionRefusal(
            .alreadyApproved,
            detail: "\(mine.reviewer) already approved request \(request.id) (\(mine.channel.rawValue), \(RFC3339.string(from: mine.approvedAt))); "
                + "\(counted) of \(request.approvalsRequired) approvals so far: another reviewer must approve",
            state: request.state
        )
    }

    /// The grant of an approved JIT request: what was asked, shortened by any reviewer who chose
    /// less. Under a quorum the shortest of the counted approvals wins.
    public static func grantSeconds(for request: AccessRequest, resource: Resource, chosen: [Int?]) -> Int {
        let asked = request.durationSeconds ?? resource.allowedDurations.first ?? Resource.defaultDurations[0]
        return chosen.compactMap { $0 }.reduce(asked, min)
    }

    /// Checks an approval for less time than asked: more than nothing, never longer than the
    /// request's duration, and only for a request that grants time (not an unlock).
    public static func checkShorterGrant(_ seconds: Int, request: AccessRequest, resource: Resource) throws(DecisionRefusal) {
        guard request.kind == .jit else {
            throw DecisionRefusal(.durationNotAllowed, detail: "an unlock request grants no time: approve it without a duration")
        }
        let asked = request.durationSeconds ?? resource.allowedDurations.first ?? Resource.defaultDurations[0]
        guard seconds > 0 else { throw DecisionRefusal(.durationNotAllowed, detail: "a grant must last some time") }
        guard seconds <= asked else {
            throw DecisionRefusal(
                .durationNotAllowed,
                detail: "\(DurationText.spelledOut(seconds: seconds)) is longer than the \(DurationText.spelledOut(seconds: asked)) asked for: a reviewer may grant less, never more"
            )
        }
    }

    /// Judges a decision attempt.
    ///
    /// Rights come first, so that someone with no rights learns nothing about the request's state:
    /// unknown reviewer, self-decision (AUTHZ-1), no right (AUTHZ-2), channel switched off; then
    /// the state (AUTHZ-3) and the deadline (AUTHZ-5).
    /// - Returns: the right that allows the decision.
    /// - Throws: ``DecisionRefusal`` naming the first rule that refuses it.
    public static func authorize(_ facts: Facts) throws(DecisionRefusal) -> ReviewRight {
        let request = facts.request
        guard let reviewer = facts.reviewer, reviewer.isActive else {
            throw DecisionRefusal(.unknownReviewer, detail: "the reviewer is not an active user of the directory")
        }
        if reviewer.email == EmailAddress.normalize(request.requester) {
            throw DecisionRefusal(.selfDecision, detail: "\(reviewer.email) requested this access and cannot decide it")
        }
        guard let right = reviewRight(of: reviewer, groups: facts.reviewerGroups, for: facts.resource, request: request) else {
            throw DecisionRefusal(
                .notAllowed,
                detail: "\(reviewer.email) has no admin review role and is not in an approver group of \(facts.resource.name)"
                    + (request.escalatedAt != nil && !facts.resource.escalationGroups.isEmpty ? " or its escalation groups" : "")
            )
        }
        switch facts.channel {
        case .reply where !facts.resource.replyDecisionsEnabled:
            throw DecisionRefusal(.channelDisabled, detail: "\(facts.resource.name) does not accept decisions by email reply")
        case .link where !facts.resource.linkDecisionsEnabled:
            throw DecisionRefusal(.channelDisabled, detail: "\(facts.resource.name) does not accept decisions through email links")
        default:
            break
        }
        guard request.state == .pending else {
            var detail = "request \(request.id) is already \(request.state.rawValue)"
            if let decision = request.decision { detail += " by \(decision.reviewer)" }
            throw DecisionRefusal(.notPending, detail: detail, state: request.state, decidedBy: request.decision?.reviewer)
        }
        guard facts.now < request.expiresAt else {
            throw DecisionRefusal(.pastDeadline, detail: "request \(request.id) expired at \(RFC3339.string(from: request.expiresAt))")
        }
        return right
    }
}
