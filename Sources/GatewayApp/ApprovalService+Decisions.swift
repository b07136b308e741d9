import ApprovalTokens
import Foundation
import GatewayCore

/// A decision attempt once its channel has named the reviewer.
struct ResolvedAttempt {
    var requestID: Int64
    var reviewer: String
    var action: DecisionAction
    var channel: DecisionChannel
    var comment: String?
    var evidence: [String: String]
    /// The digest of a single-use token's nonce (LINK-8).
    var tokenNonce: String?
    var link: LinkProof?
    /// A shorter grant than asked (``DecisionCommand/grantSeconds``).
    var grantSeconds: Int?
}

extension ApprovalService {
    /// Decides a request, in one transaction: the channel's proof of the reviewer, the channel
    /// rules, ``DecisionPolicy``, the claim (AUTHZ-4), the grant or unlock, the audit record and
    /// the outcome emails. Refusals are audited and returned, not thrown.
    public func decide(_ command: DecisionCommand) async throws -> DecisionOutcome {
        let now = self.now
        return try await storage.write(.request(command.requestID)) { [self] tx in try decide(command, in: tx, now: now) }
    }

    func decide(_ command: DecisionCommand, in tx: any StoreTransaction, now: Date) throws -> DecisionOutcome {
        var attempt = ResolvedAttempt(
            requestID: command.requestID, reviewer: "", action: command.action, channel: .cli, comment: command.comment,
            evidence: command.evidence, grantSeconds: command.grantSeconds
        )
        switch command.proof {
        case .cli(let reviewer):
            attempt.reviewer = EmailAddress.normalize(reviewer)
        case .session(let viewer):
            attempt.reviewer = viewer.user.email
            attempt.channel = .web
            attempt.evidence["session"] = String(viewer.sessionDigest.prefix(16))
        case .apiKey(let key, let named):
            attempt.channel = .api
            attempt.evidence["api_key"] = key.name
            attempt.evidence["api_key_id"] = String(key.id)
            guard let owner = key.user else {
                attempt.reviewer = key.auditActor
                return try refuse(attempt, DecisionRefusal(.forbidden, detail: "an integration key cannot decide: decisions are made by people, with a personal key or another channel"), request: nil, in: tx, now: now)
            }
            attempt.reviewer = owner
            if let named, EmailAddress.normalize(named) != owner {
                return try refuse(attempt, DecisionRefusal(.forbidden, detail: "reviewer: a personal key acts only as its user, \(owner); it cannot name another reviewer"), request: nil, in: tx, now: now)
            }
        case .link(let proof):
            attempt.channel = .link
            attempt.reviewer = EmailAddress.normalize(proof.claims.subject)
            attempt.tokenNonce = proof.claims.nonceDigest
            attempt.link = proof
            attempt.evidence["key_id"] = proof.keyID
            attempt.evidence["nonce_digest"] = proof.claims.nonceDigest
            attempt.evidence["token_purpose"] = proof.claims.purpose.rawValue
            if let linkAction = proof.claims.action { attempt.evidence["link_action"] = linkAction }
        }
        return try judge(attempt, in: tx, now: now)
    }

    /// The one decision path of every channel, inside the caller's transaction.
    func judge(_ attempt: ResolvedAttempt, in tx: any StoreTransaction, now: Date) throws -> DecisionOutcome {
        var attempt = attempt
        guard let read = try tx.decisionFacts(requestID: attempt.requestID, reviewer: attempt.reviewer), let resource = read.resource else {
            return try refuse(attempt, DecisionRefusal(.unknownRequest, detail: "there is no request \(attempt.requestID)"), request: nil, in: tx, now: now)
        }
        let request = read.request
        if let link = attempt.link, let refusal = try linkRefusal(link, request: request, resource: resource, evidence: &attempt.evidence, in: tx, now: now) {
            return try refuse(attempt, refusal, request: request, in: tx, now: now)
        }
        if let nonce = attempt.tokenNonce, try tx.isTokenUsed(nonceDigest: nonce) {
            return try refuse(attempt, DecisionRefusal(.tokenUsed, detail: "this link was already used for a decision"), request: request, in: tx, now: now)
        }
        let facts = DecisionPolicy.Facts(
            request: request, resource: resource, reviewer: read.reviewer, reviewerGroups: read.reviewerGroups, channel: attempt.channel, now: now
        )
        let right: ReviewRight
        do throws(DecisionRefusal) {
            right = try DecisionPolicy.authorize(facts)
            if attempt.action == .approve, let seconds = attempt.grantSeconds {
                try DecisionPolicy.checkShorterGrant(seconds, request: request, resource: resource)
            }
        } catch {
            if error.code == .pastDeadline { try expire(requestID: request.id, in: tx, now: now) }
            return try refuse(attempt, error, request: try tx.request(id: request.id), in: tx, now: now)
        }

        // Several approvals needed: this one is recorded, and decides only if it completes the quorum.
        var quorum: [RecordedApproval] = []
        if attempt.action == .approve, resource.approvalsRequired > 1 {
            switch try countApproval(attempt, right: right, request: request, resource: resource, audience: read.audience, in: tx, now: now) {
            case .refused(let refusal):
                return try refuse(attempt, refusal, request: request, in: tx, now: now)
            case .short(let pending):
                return .approvalRecorded(pending, right: right)
            case .complete(let counted):
                quorum = counted
            }
        }

        // AUTHZ-4: the claim. Only an update that still finds the request pending wins.
        guard let decided = try tx.claimDecision(
            requestID: request.id, action: attempt.action, reviewer: attempt.reviewer, channel: attempt.channel, comment: attempt.comment, now: now
        ) else {
            let current = try tx.request(id: request.id)
            return try refuse(
                attempt,
                DecisionRefusal(.notPending, detail: "request \(request.id) was decided by someone else first", state: current?.state, decidedBy: current?.decision?.reviewer),
                request: current, in: tx, now: now
            )
        }
        var grant: Grant?
        if attempt.action == .approve {
            switch request.kind {
            case .jit:
                // The shortest grant any counted approver chose (this one's alone without a quorum).
                let chosen = quorum.isEmpty ? [attempt.grantSeconds] : quorum.map(\.grantSeconds)
                let duration = TimeInterval(DecisionPolicy.grantSeconds(for: request, resource: resource, chosen: chosen))
                grant = try tx.insertGrant(requestID: request.id, startsAt: now, endsAt: now.addingTimeInterval(duration))
            case .unlock:
                try tx.liftLock(byRequest: request.id, now: now)
            }
        }
        var detail = attempt.evidence
        detail["attempted"] = attempt.action.rawValue
        if let grant { detail["grant_ends_at"] = RFC3339.string(from: grant.endsAt) }
        if let seconds = attempt.grantSeconds, attempt.action == .approve { detail["granted_seconds"] = String(seconds) }
        if !quorum.isEmpty {
            detail["approvals"] = "\(quorum.count) of \(resource.approvalsRequired)"
            detail["approvers"] = quorum.map(\.reviewer).joined(separator: ",")
        }
        try tx.audit(.decide, .accepted, actor: attempt.reviewer, requestID: request.id, channel: attempt.channel, reason: right.description, detail: detail, at: now)
        if let nonce = attempt.tokenNonce {
            _ = try tx.markTokenUsed(nonceDigest: nonce, requestID: request.id, channel: attempt.channel, expiresAt: request.expiresAt, now: now)
        }
        // Nothing after the claim changes the request row or who is told: both were read already.
        try enqueueOutcome(decided, grant: grant, approvers: quorum.map(\.reviewer), audience: read.audience, in: tx, now: now)
        return .decided(decided, grant: grant, right: right)
    }

    /// What counting one more approval under a quorum led to.
    enum ApprovalCount {
        /// The reviewer had already approved.
        case refused(DecisionRefusal)
        /// Recorded; more approvals are needed. The request as it now stands.
        case short(AccessRequest)
        /// Recorded, and the approvals that count reach the quorum: these decide it.
        case complete([RecordedApproval])
    }

    /// Records `attempt`'s approval and counts every approval again with each reviewer's rights now:
    /// one approval per reviewer whatever the channel; someone who lost their right since approving
    /// no longer counts, and the request keeps the reason. Short of the quorum, the approval is
    /// audited (`approve`) and everyone notified hears "approved by X; N more needed".
    func countApproval(
        _ attempt: ResolvedAttempt, right: ReviewRight, request: AccessRequest, resource: Resource, audience: OutcomeAudience,
        in tx: any StoreTransaction, now: Date
    ) throws -> ApprovalCount {
        let earlier = try tx.approvals(requestID: request.id)
        do throws(DecisionRefusal) {
            try DecisionPolicy.checkFirstApproval(by: attempt.reviewer, request: request, approvals: earlier)
        } catch {
            return .refused(error)
        }
        let approval = RecordedApproval(
            requestID: request.id, reviewer: attempt.reviewer, channel: attempt.channel, right: right.description,
            grantSeconds: attempt.grantSeconds, comment: attempt.comment, approvedAt: now
        )
        guard try tx.insertApproval(approval) else {
            // Recorded between our read and our insert (a backend without serialised writes).
            let recorded = try tx.approvals(requestID: request.id)
            do throws(DecisionRefusal) {
                try DecisionPolicy.checkFirstApproval(by: attempt.reviewer, request: request, approvals: recorded)
            } catch {
                return .refused(error)
            }
            throw ServiceInvariantError("the approval of \(attempt.reviewer) on request \(request.id) was neither recorded nor found")
        }
        var standing: [String: String?] = [attempt.reviewer: nil]
        var counted: [RecordedApproval] = []
        for other in earlier {
            let reason = DecisionPolicy.standing(
                of: other, reviewer: try tx.user(email: other.reviewer), groups: try tx.groupNames(of: other.reviewer),
                request: request, resource: resource
            )
            standing[other.reviewer] = reason
            if reason == nil { counted.append(other) }
        }
        // Oldest first; this approval is the latest.
        counted.append(approval)
        try tx.recordApprovalStanding(requestID: request.id, voidReasons: standing, count: counted.count)
        if counted.count >= resource.approvalsRequired { return .complete(counted) }

        var detail = attempt.evidence
        detail["attempted"] = attempt.action.rawValue
        detail["approvals"] = "\(counted.count) of \(resource.approvalsRequired)"
        if let seconds = attempt.grantSeconds { detail["granted_seconds"] = String(seconds) }
        let voided = standing.compactMap { reviewer, reason in reason.map { _ in reviewer } }.sorted()
        if !voided.isEmpty { detail["no_longer_counted"] = voided.joined(separator: ",") }
        try tx.audit(.approve, .accepted, actor: attempt.reviewer, requestID: request.id, channel: attempt.channel, reason: right.description, detail: detail, at: now)
        if let nonce = attempt.tokenNonce {
            _ = try tx.markTokenUsed(nonceDigest: nonce, requestID: request.id, channel: attempt.channel, expiresAt: request.expiresAt, now: now)
        }
        let recipients = NotificationRecipients.forApprovalRecorded(
            request, notified: audience.notified, approver: attempt.reviewer, users: audience.users
        )
        var context = [
            "approved_by": attempt.reviewer, "approvals": String(counted.count), "approvals_required": String(resource.approvalsRequired),
            "approvers_so_far": counted.map(\.reviewer).joined(separator: ","),
        ]
        if let comment = attempt.comment { context["approval_comment"] = comment }
        try tx.enqueue(.approvalRecorded, requestID: request.id, recipients: recipients, context: context, now: now)
        guard let pending = try tx.request(id: request.id) else { throw ServiceInvariantError("request \(request.id) vanished while being approved") }
        return .short(pending)
    }

    /// Audits a refused attempt and returns it.
    func refuse(_ attempt: ResolvedAttempt, _ refusal: DecisionRefusal, request: AccessRequest?, in tx: any StoreTransaction, now: Date) throws -> DecisionOutcome {
        var detail = attempt.evidence
        detail["attempted"] = attempt.action.rawValue
        try tx.audit(.decide, .refused, actor: attempt.reviewer, requestID: attempt.requestID, channel: attempt.channel, reason: refusal.code.rawValue, detail: detail, at: now)
        return .refused(refusal, request: request)
    }

    /// The rules of an emailed link: the token belongs to this request; the browser is signed in
    /// as the token's reviewer (LINK-2) unless the resource relaxes it; the confirmation code, with
    /// a lockout after too many wrong ones.
    func linkRefusal(
        _ proof: LinkProof, request: AccessRequest, resource: Resource, evidence: inout [String: String],
        in tx: any StoreTransaction, now: Date
    ) throws -> DecisionRefusal? {
        let reviewer = EmailAddress.normalize(proof.claims.subject)
        guard proof.claims.requestID == request.id, proof.claims.purpose == .decide || proof.claims.purpose == .review else {
            return DecisionRefusal(.tokenMismatch, detail: "this link is not for request \(request.id)")
        }
        if resource.linkSignInRequired {
            guard let signedIn = proof.signedInAs else {
                return DecisionRefusal(.signInRequired, detail: "sign in as \(reviewer) to decide through this link")
            }
            guard signedIn == reviewer else {
                evidence["signed_in_as"] = signedIn
                return DecisionRefusal(.wrongSession, detail: "this link is \(reviewer)'s, and this browser is signed in as \(signedIn)")
            }
            evidence["sign_in"] = "session"
        } else {
            evidence["sign_in"] = "not required (link_sign_in: false)"
        }
        if resource.linkCodeRequired {
            let bucket = "code:\(request.id):\(reviewer)"
            guard try tx.attemptCount(bucket: bucket, since: now.addingTimeInterval(-settings.attemptWindow)) < settings.linkCodeAttempts else {
                return DecisionRefusal(.codeLocked, detail: "too many wrong confirmation codes; wait \(Int(settings.attemptWindow / 60)) minutes")
            }
            guard let code = proof.code, let signer, LinkCode.verify(code, requestID: request.id, reviewer: reviewer, ring: signer.keyRing) else {
                try tx.recordAttempt(bucket: bucket, now: now)
                return DecisionRefusal(.wrongCode, detail: "the confirmation code does not match the one in the email")
            }
        }
        return nil
    }
}

/// Something the database said that cannot be true: a bug or a corrupted database, never a user error.
public struct ServiceInvariantError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
