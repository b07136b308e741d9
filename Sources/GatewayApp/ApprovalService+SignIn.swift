import ApprovalTokens
import Foundation
import GatewayCore

extension ApprovalService {
    /// Emails a sign-in link to a known, active address. The outcome is the same whether or not
    /// the address is known; requests are limited per address and per client.
    ///
    /// - Parameters:
    ///   - email: the address typed at the sign-in page.
    ///   - client: the client's address, for the per-client limit and the audit log.
    public func requestSignInLink(email: String, client: String) async throws -> SignInLinkOutcome {
        let email = EmailAddress.normalize(email)
        let now = self.now
        return try await storage.write { [self] tx in
            guard try allowAttempt("login-client:\(client)", limit: settings.signInLimitPerClient, in: tx, now: now) else { return .tooManyAttempts }
            guard try allowAttempt("login-address:\(Secrets.sha256Hex(email))", limit: settings.signInLimitPerAddress, in: tx, now: now),
                  let user = try tx.user(email: email), user.isActive else { return .sent }
            try queueSignInLink(for: user, requestID: nil, action: nil, in: tx, now: now)
            try tx.audit(.signInLink, .accepted, actor: user.email, channel: .web, detail: ["client_ip": client], at: now)
            return .sent
        }
    }

    /// "Sign in to confirm" on a link's page: emails a sign-in link to the link's reviewer, at the
    /// address on file (never one typed in), that brings them back to the request with the action.
    /// Limited like every sign-in link; the answer does not say whether the link went out.
    public func requestSignInToConfirm(_ claims: TokenClaims, client: String) async throws -> SignInLinkOutcome {
        let now = self.now
        return try await storage.write { [self] tx in
            guard claims.purpose == .decide || claims.purpose == .review, let requestID = claims.requestID else { return .sent }
            guard try allowAttempt("login-client:\(client)", limit: settings.signInLimitPerClient, in: tx, now: now) else { return .tooManyAttempts }
            let email = EmailAddress.normalize(claims.subject)
            guard try allowAttempt("login-address:\(Secrets.sha256Hex(email))", limit: settings.signInLimitPerAddress, in: tx, now: now),
                  let user = try tx.user(email: email), user.isActive else { return .sent }
            try queueSignInLink(for: user, requestID: requestID, action: claims.action, in: tx, now: now)
            try tx.audit(.signInLink, .accepted, actor: user.email, requestID: requestID, channel: .link, detail: ["client_ip": client, "nonce_digest": claims.nonceDigest], at: now)
            return .sent
        }
    }

    /// Queues a sign-in email. The link itself is signed when the email is rendered, and never
    /// stored: the outbox keeps only whom it is for, the request and action to return to, and the
    /// expiry (a database backup holds no live sign-in link).
    func queueSignInLink(for user: User, requestID: Int64?, action: String?, in tx: any StoreTransaction, now: Date) throws {
        var context = ["link_expires": RFC3339.string(from: now.addingTimeInterval(settings.signInLinkLifetime))]
        if let action { context["action"] = action }
        try tx.enqueue(.signIn, requestID: requestID, recipient: NotificationRecipient(email: user.email, reason: "sign_in"), context: context, now: now)
    }

    /// Counts one attempt in `bucket`; whether it is within `limit` per ``Settings/attemptWindow``.
    func allowAttempt(_ bucket: String, limit: Int, in tx: any StoreTransaction, now: Date) throws -> Bool {
        guard try tx.attemptCount(bucket: bucket, since: now.addingTimeInterval(-settings.attemptWindow)) < limit else { return false }
        try tx.recordAttempt(bucket: bucket, now: now)
        return true
    }

    /// Signs in with an emailed sign-in link's verified claims: the only way a session begins.
    /// Review, approve and deny links never sign anyone in (LINK-7, LINK-8); a sign-in link works once.
    public func signIn(with claims: TokenClaims, evidence: [String: String]) async throws -> SignInOutcome {
        guard claims.purpose == .login else { return .unknownUser }
        let now = self.now
        let lifetime = settings.sessionLifetime
        return try await storage.write { tx in
            guard let user = try tx.user(email: claims.subject), user.isActive else { return .unknownUser }
            guard try tx.markTokenUsed(nonceDigest: claims.nonceDigest, requestID: nil, channel: .web, expiresAt: claims.expiresAt, now: now) else {
                try tx.audit(.signIn, .refused, actor: user.email, channel: .web, reason: "token_used", detail: evidence, at: now)
                return .linkUsed
            }
            let secret = Secrets.randomToken()
            let expires = now.addingTimeInterval(lifetime)
            try tx.insertSession(idDigest: Secrets.sha256Hex(secret), user: user.email, expiresAt: expires, now: now)
            try tx.audit(.signIn, .accepted, actor: user.email, channel: .web, detail: evidence.merging(["nonce_digest": claims.nonceDigest]) { a, _ in a }, at: now)
            return .signedIn(NewSession(secret: secret, user: user, expiresAt: expires), link: claims)
        }
    }

    /// The signed-in viewer of a browser presenting `sessionSecret`, if its session is live and its
    /// user active, with the rights they hold now.
    public func viewer(sessionSecret: String) async throws -> Viewer? {
        guard sessionSecret.utf8.count == 43 else { return nil }
        let digest = Secrets.sha256Hex(sessionSecret)
        let now = self.now
        return try await storage.read { tx in
            guard let facts = try tx.signedInFacts(idDigest: digest, now: now) else { return nil }
            let (user, groups, resources) = (facts.user, facts.groups, facts.resources)
            let active = resources.filter(\.isActive)
            let reviewable = active.filter { DecisionPolicy.reviewRight(of: user, groups: groups, for: $0) != nil }
            let escalation = active.filter { !$0.escalationGroups.filter(groups.contains).isEmpty }
            return Viewer(
                user: user, groups: groups, sessionDigest: digest, reviewableResources: Set(reviewable.map(\.name)),
                escalationResources: Set(escalation.map(\.name)),
                resources: Dictionary(resources.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            )
        }
    }

    /// Ends a session (sign out), audited. Ending an unknown session does nothing.
    public func signOut(sessionSecret: String) async throws {
        let digest = Secrets.sha256Hex(sessionSecret)
        let now = self.now
        try await storage.write { tx in
            guard let user = try tx.endSession(idDigest: digest, now: now) else { return }
            try tx.audit(.signOut, .accepted, actor: user, channel: .web, at: now)
        }
    }

    /// Whether a link token's nonce was used (to show "already used" on its page). Read-only.
    public func isTokenUsed(_ claims: TokenClaims) async throws -> Bool {
        let digest = claims.nonceDigest
        return try await storage.read { try $0.isTokenUsed(nonceDigest: digest) }
    }
}
