import Foundation
import GatewayCore

extension ApprovalService {
    /// Claims a sign-in attempt's `state` at the provider's callback: true the first time, false for
    /// a replayed callback. Shared by every gateway on the database; refusals are audited.
    public func claimProviderState(_ state: String, attemptStarted: Date, evidence: [String: String]) async throws -> Bool {
        let now = self.now
        let digest = Secrets.sha256Hex("oidc-state:" + state)
        return try await storage.write { tx in
            let expires = attemptStarted.addingTimeInterval(ProviderSignInAttempt.lifetime)
            guard now < expires, try tx.markTokenUsed(nonceDigest: digest, requestID: nil, channel: .web, expiresAt: expires, now: now) else {
                try tx.audit(.signIn, .refused, actor: nil, channel: .web, reason: now < expires ? "state_replayed" : "state_expired", detail: evidence.merging(["method": "oidc"]) { a, _ in a }, at: now)
                return false
            }
            return true
        }
    }

    /// Signs in with an identity the provider vouched for: the verified address must belong to an
    /// active user of the directory (nobody is created, and roles never come from the provider).
    /// Membership of the ``Settings/providerSyncedGroups`` follows the provider's groups, audited
    /// like any membership change, in the same transaction as the session.
    public func signIn(with identity: ProviderIdentity, evidence: [String: String]) async throws -> ProviderSignInOutcome {
        let now = self.now
        let lifetime = settings.sessionLifetime
        let synced = settings.providerSyncedGroups
        var evidence = evidence
        evidence["method"] = "oidc"
        evidence["issuer"] = identity.issuer
        evidence["subject"] = identity.subject
        let recorded = evidence
        return try await storage.write { tx in
            guard let raw = identity.email, identity.emailVerified else {
                try tx.audit(.signIn, .refused, actor: identity.email.map(EmailAddress.normalize), channel: .web, reason: "email_not_verified", detail: recorded, at: now)
                return .emailNotVerified(email: identity.email)
            }
            let email = EmailAddress.normalize(raw)
            guard let user = try tx.user(email: email), user.isActive else {
                try tx.audit(.signIn, .refused, actor: email, channel: .web, reason: "not_a_user", detail: recorded, at: now)
                return .notAUser(email: email)
            }
            if let providerGroups = identity.groups, !synced.isEmpty {
                let wanted = Set(providerGroups)
                for group in try tx.groups() where synced.contains(group.name) {
                    let isMember = group.members.contains(email)
                    guard isMember != wanted.contains(group.name) else { continue }
                    let after = isMember ? group.members.subtracting([email]) : group.members.union([email])
                    try tx.replaceGroupMembers(after.sorted(), group: group.name, create: false)
                    try tx.audit(.groupMembers, .accepted, actor: email, channel: .web, detail: [
                        "group": group.name, "before": group.members.sorted().joined(separator: ","),
                        "after": after.sorted().joined(separator: ","), "source": "oidc_groups", "issuer": identity.issuer,
                    ], at: now)
                }
            }
            let secret = Secrets.randomToken()
            let expires = now.addingTimeInterval(lifetime)
            try tx.insertSession(idDigest: Secrets.sha256Hex(secret), user: user.email, expiresAt: expires, now: now)
            try tx.audit(.signIn, .accepted, actor: user.email, channel: .web, detail: recorded, at: now)
            return .signedIn(NewSession(secret: secret, user: user, expiresAt: expires))
        }
    }
}
